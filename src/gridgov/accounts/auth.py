"""API authentication: the web app's session cookie (with CSRF on writes) or a hashed API token
(`Authorization: Bearer gg_…`) for integrations."""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from gridgov.core.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


def _csrf_ok(request: HttpRequest) -> bool:
    def _noop(req):  # pragma: no cover - never called
        return None

    middleware = CsrfViewMiddleware(_noop)
    middleware.process_request(request)
    return middleware.process_view(request, None, (), {}) is None


def api_auth(request: HttpRequest):
    """Ninja auth callable: returns the user, or None (→ 401)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        from gridgov.accounts.services import authenticate_token

        user = authenticate_token(header[7:].strip(), request)
        if user is not None:
            request.user = user
        return user
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if request.method not in SAFE_METHODS and not _csrf_ok(request):
        raise Forbidden(_("The CSRF token is missing or wrong; reload the page and try again."))
    return user
