"""What `gridgov serve` changes in gunicorn: no `Server: gunicorn` header (the software and its version are
nobody's business), and the errors gunicorn answers itself, before Django sees the request (a request line
over `limit_request_line`, headers over their limits, a malformed request), as problem+json like every other
error, in the default language (no header has been read yet)."""

from __future__ import annotations

import json

_applied = False

_REASONS = {
    400: ("bad-request", "Bad request"),
    403: ("forbidden", "You are not allowed to do this"),
    414: ("uri-too-long", "The address is too long"),
    417: ("expectation-failed", "Request failed"),
    431: ("headers-too-large", "The request headers are too large"),
    500: ("server-error", "Server error"),
    501: ("not-implemented", "Request failed"),
}


def problem_bytes(status: int) -> bytes:
    """The raw HTTP answer gunicorn writes for an error of its own."""
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext

    from gridgov.core.errors import PROBLEM_CONTENT_TYPE, TYPE_BASE

    code, title = _REASONS.get(status, ("error", "Request failed"))
    with translation.override(settings.LANGUAGE_CODE):
        text = gettext(title)
    body = json.dumps(
        {"type": TYPE_BASE + code, "title": text, "status": status, "detail": text, "errors": []},
        ensure_ascii=False,
    ).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {code}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
    )
    return head.encode("latin-1") + body


def apply() -> None:
    """Patch gunicorn once, in the master before the workers fork."""
    global _applied
    if _applied:
        return
    from gunicorn import util  # type: ignore[import-untyped]
    from gunicorn.http import wsgi  # type: ignore[import-untyped]

    original_headers = wsgi.Response.default_headers

    def default_headers(self):
        return [h for h in original_headers(self) if not h.lower().startswith("server:")]

    def write_error(sock, status_int, reason, mesg):
        util.write_nonblock(sock, problem_bytes(int(status_int)))

    wsgi.Response.default_headers = default_headers
    util.write_error = write_error
    _applied = True
