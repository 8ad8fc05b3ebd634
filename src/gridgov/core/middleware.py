"""Every error under /api/ is problem+json, including the ones Django or Ninja answer themselves
(405 method not allowed, CSRF failures, 413 too large, …)."""

from __future__ import annotations

import json

from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from gridgov.core.errors import PROBLEM_CONTENT_TYPE, problem
from gridgov.core.principal import flush_denials

_TITLES = {
    400: ("bad-request", lambda: _("Bad request")),
    403: ("forbidden", lambda: _("You are not allowed to do this")),
    404: ("not-found", lambda: _("Not found")),
    405: ("method-not-allowed", lambda: _("This method is not allowed here")),
    413: ("too-large", lambda: _("The request is too large")),
    415: ("unsupported-media-type", lambda: _("Unsupported content type")),
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
        nul_fields = _nul_fields(request) if request.path.startswith("/api/") else []
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
