"""Idle sessions end after GRIDGOV_SESSION_IDLE_SECONDS (等保2.0: 登录连接超时自动退出).

The time of the last request is kept in the session; it is rewritten at most every
LAST_SEEN_RESOLUTION seconds so that a busy client does not write its session on every request.
The API then answers 401 `session-expired` (accounts/auth.py reads `request.gridgov_session_expired`)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout

LAST_SEEN_KEY = "gridgov_last_seen"
LAST_SEEN_RESOLUTION = 15


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get(LAST_SEEN_KEY)
            idle = settings.GRIDGOV_SESSION_IDLE_SECONDS
            if last is not None and now - float(last) > idle:
                from gridgov.accounts.models import AuditEventType
                from gridgov.accounts.services import record_audit

                record_audit(
                    AuditEventType.SESSION_EXPIRED,
                    user=user,
                    request=request,
                    object_type="user",
                    object_id=user.pk,
                    detail={"idle_seconds": int(now - float(last))},
                )
                logout(request)
                request.gridgov_session_expired = True
            elif last is None or now - float(last) >= min(LAST_SEEN_RESOLUTION, idle / 10):
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)
