"""Rate limits (等保2.0 身份鉴别 b, 入侵防范): how many requests of one kind a client address or an account
may send in a time window, counted with django-ratelimit in the Django cache `ratelimit` (Redis when
REDIS_URL is set, shared by every worker; a file cache in the data directory otherwise, shared by the
workers of one host; see settings.py).

One call for every use:

    from gridgov.core import ratelimit
    ratelimit.enforce(request, "registry-exact-search")                 # per client address
    ratelimit.enforce(request, "registry-exact-search", key=f"user:{request.auth.pk}")

Over the limit it raises `RateLimited`: **429** problem+json (`too-many-requests`) in the user's
language, with `Retry-After` (seconds) as a header and `retry_after` in the body.

The groups and their rates are in settings.GRIDGOV_RATELIMITS ("20/10m": 20 per 10 minutes); a group not
named there uses `default`, or the `rate` given to the call. For counting failures only (logins), use
`check()` before the work and `hit()` after a failure; `enforce()` is both at once.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.translation import ngettext
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

from gridgov.core.errors import TooManyRequests
from gridgov.core.http import client_ip

__all__ = ["RateLimited", "address_key", "check", "enforce", "hit", "rate_of", "reset"]


class RateLimited(TooManyRequests):
    """429 with Retry-After."""

    def __init__(self, retry_after: int):
        retry_after = max(1, int(retry_after))
        minutes = math.ceil(retry_after / 60)
        if retry_after < 60:
            detail = ngettext(
                "Too many attempts. Try again in %(n)d second.",
                "Too many attempts. Try again in %(n)d seconds.",
                retry_after,
            ) % {"n": retry_after}
        else:
            detail = ngettext(
                "Too many attempts. Try again in %(n)d minute.",
                "Too many attempts. Try again in %(n)d minutes.",
                minutes,
            ) % {"n": minutes}
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


def rate_of(group: str) -> str | None:
    rates = getattr(settings, "GRIDGOV_RATELIMITS", {}) or {}
    return rates.get(group, rates.get("default"))


def address_key(request: HttpRequest | None) -> str:
    """The client address as the audit log records it (REMOTE_ADDR or the trusted X-Forwarded-For)."""
    return "address:" + (client_ip(request) or "unknown")


def _usage(request: HttpRequest | None, group: str, key: str | None, rate: str | None, increment: bool):
    rate = rate or rate_of(group)
    if not rate or not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    value = key or address_key(request)
    return get_usage(
        request,
        group=f"gridgov:{group}",
        key=lambda _group, _request: value,
        rate=rate,
        method=ALL,
        increment=increment,
    )


def _raise(usage: dict) -> None:
    raise RateLimited(usage.get("time_left") or 1)


def enforce(
    request: HttpRequest | None, group: str, *, key: str | None = None, rate: str | None = None
) -> None:
    """Count this request in `group` for `key` (default: the client address); raise RateLimited (429)
    when it goes over the group's rate."""
    usage = _usage(request, group, key, rate, increment=True)
    if usage is not None and usage["should_limit"]:
        _raise(usage)


def check(
    request: HttpRequest | None, group: str, *, key: str | None = None, rate: str | None = None
) -> None:
    """Raise RateLimited when `key` has used up the group's rate already (counts nothing)."""
    usage = _usage(request, group, key, rate, increment=False)
    if usage is not None and usage["count"] >= usage["limit"]:
        _raise(usage)


def hit(request: HttpRequest | None, group: str, *, key: str | None = None, rate: str | None = None) -> None:
    """Count one event (e.g. a failed login) in `group` for `key` without refusing anything."""
    _usage(request, group, key, rate, increment=True)


def reset() -> None:
    """Forget every count (`gridgov unlock` on the console, after which nobody waits for a window)."""
    caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")].clear()
