"""Errors as RFC 9457 problem+json, in the user's language (zh-CN by default, English on Accept-Language: en).

Services raise the exceptions below; the API turns them into problem documents:
    {"type": "...", "title": "...", "status": 4xx, "detail": "...", "errors": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://gridgov.org/problems/"


class ApiError(Exception):
    status = 400
    code = "bad-request"
    title = gettext_lazy("Bad request")

    def __init__(
        self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **extra: Any
    ):
        super().__init__(detail or str(self.title))
        self.detail = detail or str(self.title)
        self.errors = errors or []
        self.extra = extra


class BadRequest(ApiError):
    pass


class ValidationFailed(ApiError):
    status = 422
    code = "validation"
    title = gettext_lazy("The input is not valid")


class FieldErrors:
    """Field errors collected while checking an input, raised together as one ValidationFailed (422)."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(
                _("Please correct: %(fields)s") % {"fields": ", ".join(e["field"] for e in self.items)},
                errors=self.items,
            )


def field_error(field: str, message: str) -> ValidationFailed:
    """One field's error as a ValidationFailed (422), for the caller to raise."""
    errors = FieldErrors()
    errors.add(field, message)
    return ValidationFailed(_("Please correct: %(fields)s") % {"fields": field}, errors=errors.items)


class NotAuthenticated(ApiError):
    status = 401
    code = "not-authenticated"
    title = gettext_lazy("Please log in")


class Forbidden(ApiError):
    status = 403
    code = "forbidden"
    title = gettext_lazy("You are not allowed to do this")


class NotFound(ApiError):
    status = 404
    code = "not-found"
    title = gettext_lazy("Not found")


class Conflict(ApiError):
    status = 409
    code = "conflict"
    title = gettext_lazy("Someone else changed this first; reload and try again")


class TooLarge(ApiError):
    status = 413
    code = "too-large"
    title = gettext_lazy("The file is too large")


class Locked(ApiError):
    status = 423
    code = "locked"
    title = gettext_lazy("The account is locked")


class TooManyRequests(ApiError):
    status = 429
    code = "too-many-requests"
    title = gettext_lazy("Too many requests")


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": str(title),
        "status": status,
        "detail": str(detail),
        "errors": errors or [],
    }
    body.update(extra)
    return JsonResponse(
        body, status=status, content_type=PROBLEM_CONTENT_TYPE, json_dumps_params={"ensure_ascii": False}
    )


def api_error_response(exc: ApiError) -> JsonResponse:
    response = problem(exc.status, exc.code, str(exc.title), exc.detail, exc.errors, **exc.extra)
    for name, value in (getattr(exc, "headers", None) or {}).items():  # e.g. Retry-After on a 429
        response[name] = value
    return response


# Messages for pydantic's error types, so field errors read in the user's language.
_PYDANTIC_MESSAGES = {
    "missing": gettext_lazy("This field is required"),
    "int_parsing": gettext_lazy("Enter a whole number"),
    "int_type": gettext_lazy("Enter a whole number"),
    "int_from_float": gettext_lazy("Enter a whole number"),
    "float_parsing": gettext_lazy("Enter a number"),
    "float_type": gettext_lazy("Enter a number"),
    "finite_number": gettext_lazy("Enter a finite number"),
    "bool_parsing": gettext_lazy("Enter true or false"),
    "bool_type": gettext_lazy("Enter true or false"),
    "string_type": gettext_lazy("Enter text"),
    "string_too_short": gettext_lazy("The text is too short"),
    "string_too_long": gettext_lazy("The text is too long"),
    "string_pattern_mismatch": gettext_lazy("The text has the wrong format"),
    "literal_error": gettext_lazy("Choose one of the allowed values"),
    "enum": gettext_lazy("Choose one of the allowed values"),
    "greater_than": gettext_lazy("The value is too small"),
    "greater_than_equal": gettext_lazy("The value is too small"),
    "less_than": gettext_lazy("The value is too large"),
    "less_than_equal": gettext_lazy("The value is too large"),
    "list_type": gettext_lazy("Enter a list"),
    "dict_type": gettext_lazy("Enter an object"),
    "model_type": gettext_lazy("Enter an object"),
    "model_attributes_type": gettext_lazy("Enter an object"),
    "json_invalid": gettext_lazy("The request body is not valid JSON"),
    "json_type": gettext_lazy("The request body is not valid JSON"),
    "datetime_parsing": gettext_lazy("Enter a date and time"),
    "datetime_from_date_parsing": gettext_lazy("Enter a date and time"),
    "date_parsing": gettext_lazy("Enter a date"),
    "date_from_datetime_parsing": gettext_lazy("Enter a date"),
    "uuid_parsing": gettext_lazy("Enter a UUID"),
    "too_short": gettext_lazy("Too few items"),
    "too_long": gettext_lazy("Too many items"),
    "extra_forbidden": gettext_lazy("This field is not allowed"),
    "value_error": gettext_lazy("The value is not valid"),
    "assertion_error": gettext_lazy("The value is not valid"),
}


def field_errors_from_pydantic(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ninja's validation errors → [{"field": "body.lng", "message": "…", "code": "float_parsing"}]."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("payload",)]
        code = str(err.get("type", "value_error"))
        message = _PYDANTIC_MESSAGES.get(code)
        ctx = err.get("ctx") or {}
        if code == "value_error" and ctx.get("error"):
            # Our own validators raise ValueError with an already translated message.
            text = str(ctx["error"])
        elif message is not None:
            text = str(message)
        else:
            text = _("The value is not valid")
        out.append({"field": ".".join(loc), "message": text, "code": code})
    return out


def handle_validation_error(request: HttpRequest, exc: Any) -> JsonResponse:
    errors = field_errors_from_pydantic(list(getattr(exc, "errors", [])))
    fields = ", ".join(e["field"] for e in errors if e["field"])
    detail = _("Please correct: %(fields)s") % {"fields": fields} if fields else _("The input is not valid")
    return problem(422, "validation", _("The input is not valid"), detail, errors)


def _disk_full(exc: BaseException) -> bool:
    """No space left: an OSError ENOSPC, SQLite's "database or disk is full", PostgreSQL's disk_full."""
    import errno

    from django.db import DatabaseError

    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, DatabaseError) and (
            "disk is full" in str(e)
            or "No space left on device" in str(e)
            or getattr(e, "pgcode", None) == "53100"
            or getattr(getattr(e, "diag", None), "sqlstate", None) == "53100"
        ):
            return True
    return False


def too_large_problem() -> JsonResponse:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return problem(
        413,
        "too-large",
        _("The request is too large"),
        _("The request body may hold at most %(mb)s MB (files are sent as uploads).")
        % {"mb": f"{limit / 1024 / 1024:.1f}"},
    )


def disk_full_problem() -> JsonResponse:
    response = problem(
        503,
        "storage-full",
        _("The server cannot store data right now"),
        _("The server's storage is full; nothing was saved. Please try again later."),
    )
    response["Retry-After"] = "300"
    return response


def problem_for_exception(exc: BaseException) -> JsonResponse | None:
    """The problem document of an unexpected exception that is not a server bug: a body over Django's
    limits (413) or a full disk (503, nothing saved). None for anything else (a 500)."""
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return too_large_problem()
    if _disk_full(exc):
        return disk_full_problem()
    return None
