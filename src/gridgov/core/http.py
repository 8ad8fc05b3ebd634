"""Requests: the type an authenticated API operation gets, and the client's address as the audit log and
the rate limits count it."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest


class AuthedRequest(HttpRequest):
    """A request as an API operation gets it (for the type checker): django-ninja has set `auth` to
    what the API's authenticator returned (gridgov.accounts.auth: the signed-in user)."""

    auth: Any


def _valid_ip(value: str) -> str | None:
    value = (value or "").strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or the address that the last GRIDGOV_NUM_PROXIES trusted
    reverse proxies put into X-Forwarded-For."""
    if request is None:
        return None
    proxies = int(getattr(settings, "GRIDGOV_NUM_PROXIES", 0) or 0)
    if proxies > 0:
        forwarded = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            ip = _valid_ip(forwarded[-proxies])
            if ip:
                return ip
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))
