"""Every error under /api/ is problem+json, including the ones Django or Ninja answer themselves
(405 method not allowed, CSRF failures, 413 too large, …)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.signals import got_request_exception
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext as _

from gridgov.core.errors import PROBLEM_CONTENT_TYPE, problem, problem_for_exception, too_large_problem
from gridgov.core.principal import flush_denials

_TITLES = {
    400: ("bad-request", lambda: _("Bad request")),
    403: ("forbidden", lambda: _("You are not allowed to do this")),
    404: ("not-found", lambda: _("Not found")),
    405: ("method-not-allowed", lambda: _("This method is not allowed here")),
    413: ("too-large", lambda: _("The request is too large")),
    414: ("uri-too-long", lambda: _("The address is too long")),
    415: ("unsupported-media-type", lambda: _("Unsupported content type")),
    431: ("headers-too-large", lambda: _("The request headers are too large")),
    500: ("server-error", lambda: _("Server error")),
}


def _nul_fields(request) -> list[str]:
    """Where a request carries a NUL character, named like the API's field errors (query.q, body.name)."""
    fields = [f"query.{k}" for k, values in request.GET.lists() if any("\x00" in k + v for v in values)]
    if "\x00" in request.path:
        try:
            kwargs = resolve(request.path_info).kwargs
        except Resolver404:
            kwargs = {}
        fields += [f"path.{k}" for k, v in kwargs.items() if "\x00" in str(v)] or ["path"]
    if request.method in ("POST", "PUT", "PATCH") and request.content_type == "application/json":
        body = request.body
        if b"\\u0000" in body or b"\x00" in body:
            try:
                fields += _json_nul_fields(json.loads(body), "body")
            except ValueError:
                fields.append("body")
            fields = fields or ["body"]
    return fields


def _json_nul_fields(value, where: str) -> list[str]:
    if isinstance(value, str):
        return [where] if "\x00" in value else []
    if isinstance(value, dict):
        out = [f"{where}.{k}" for k in value if "\x00" in str(k)]
        for k, v in value.items():
            out += _json_nul_fields(v, f"{where}.{k}")
        return out
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _json_nul_fields(v, f"{where}.{i}")]
    return []


class ApiProblemMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            nul_fields = _nul_fields(request) if request.path.startswith("/api/") else []
        except (RequestDataTooBig, TooManyFieldsSent):
            return too_large_problem()
        if nul_fields:
            # PostgreSQL text cannot hold NUL: refuse it at the edge, for every endpoint.
            message = _("Text may not contain NUL characters.")
            errors = [{"field": f, "message": message, "code": "nul"} for f in nul_fields]
            return problem(422, "validation", _("The input is not valid"), message, errors)
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith((PROBLEM_CONTENT_TYPE, "application/json"))
        ):
            code, title = _TITLES.get(response.status_code, ("error", lambda: _("Request failed")))
            detail = title()
            if response.status_code == 405 and response.get("Allow"):
                detail = _("Allowed methods: %(methods)s") % {"methods": response["Allow"]}
            new = problem(response.status_code, code, title(), detail)
            if response.get("Allow"):
                new["Allow"] = response["Allow"]
            return new
        return response


class DenialAuditMiddleware:
    """The safety net of `require`: refusals still waiting when a request ends (a view that caught the
    Forbidden, a non-API view) are written to the audit log, outside every transaction of the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            flush_denials()


def _is_html_error(response) -> bool:
    return response.status_code >= 400 and not response.get("Content-Type", "").startswith(
        (PROBLEM_CONTENT_TYPE, "application/json")
    )


def _remember_exception(sender, request=None, **kwargs) -> None:
    """Django turns an exception outside the view (a session saved to a full disk) into an HTML 500 before
    the outer middleware sees it: keep the exception on the request so that ApiEdgeMiddleware can answer."""
    import sys

    if request is not None:
        request._gridgov_exception = sys.exc_info()[1]


got_request_exception.connect(_remember_exception, dispatch_uid="gridgov-api-edge")


class ApiEdgeMiddleware:
    """The outermost layer of /api/ (docs/security.md, "The browser and HTTP"):

    - every API answer may carry personal data: `Cache-Control: no-store` (browsers and proxies keep no
      copy), unless the view already said no-store;
    - an error the inner layers answered as an HTML page (a body over DATA_UPLOAD_MAX_MEMORY_SIZE read by
      a middleware, a full disk while saving the session) becomes problem+json in the user's language:
      413 for a body too large, 503 when the disk is full, otherwise the status with a generic title."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001 - only the known kinds are answered here
            known = self._known(request, exc)
            if known is None:
                raise
            response = known
        if _is_html_error(response):
            raised = getattr(request, "_gridgov_exception", None)
            known = self._known(request, raised) if raised is not None else None
            if known is None and response.status_code == 400 and self._over_limit(request):
                known = self._localised(request, too_large_problem)
            if known is None:
                known = self._localised(request, lambda: _generic_problem(response))
            response = known
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _over_limit(request) -> bool:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return limit is not None and length > limit and not request.content_type.startswith("multipart/")

    def _known(self, request, exc):
        return self._localised(request, lambda: problem_for_exception(exc))

    @staticmethod
    def _localised(request, make):
        with translation.override(translation.get_language_from_request(request)):
            return make()


def _generic_problem(response):
    code, title = _TITLES.get(response.status_code, ("error", lambda: _("Request failed")))
    return problem(response.status_code, code, title(), title())
