"""The kernel's part of the API: JSON with Chinese as text and one problem+json answer for every error.
The project assembles the NinjaAPI (gridgov/api.py: authentication, the apps' routers) and calls
`handle_errors(api)`; core imports no app."""

from __future__ import annotations

import logging

import ninja.renderers
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from gridgov.core.errors import (
    ApiError,
    api_error_response,
    handle_validation_error,
    problem,
    problem_for_exception,
)
from gridgov.core.principal import flush_denials

log = logging.getLogger(__name__)


class JSONRenderer(ninja.renderers.JSONRenderer):
    """JSON with Chinese as text, not \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


def handle_errors(api: NinjaAPI) -> NinjaAPI:
    """Answer every error of `api` as application/problem+json in the user's language."""

    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError):
        # The use case's transaction has unwound by now: a refusal that waited for it is written here.
        flush_denials()
        return api_error_response(exc)

    @api.exception_handler(NinjaValidationError)
    def _validation_error(request: HttpRequest, exc: NinjaValidationError):
        return handle_validation_error(request, exc)

    @api.exception_handler(AuthenticationError)
    def _auth_error(request: HttpRequest, exc: AuthenticationError):
        return problem(401, "not-authenticated", _("Please log in"), _("Log in or send a valid API token."))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404):
        return problem(404, "not-found", _("Not found"), _("Nothing here, or it is outside your area."))

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError):
        return problem(exc.status_code, "http-error", str(exc), str(exc))

    @api.exception_handler(Exception)
    def _server_error(request: HttpRequest, exc: Exception):
        known = problem_for_exception(exc)  # a body over the limits (413), a full disk (503)
        if known is not None:
            log.error("%s %s: %s", request.method, request.path, exc)
            return known
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500, "server-error", _("Server error"), _("Something went wrong on our side; it has been logged.")
        )

    return api
