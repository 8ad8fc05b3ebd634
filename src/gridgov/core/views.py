from django.shortcuts import render
from django.utils.translation import gettext as _

from gridgov.core.errors import problem


def home(request):
    return render(request, "home.html")


def api_not_found(request, *args, **kwargs):
    """Any /api/ path that matches no endpoint: a problem+json 404, never an HTML page."""
    return problem(
        404,
        "not-found",
        _("Not found"),
        _("There is no such API endpoint: %(path)s") % {"path": request.path},
    )
