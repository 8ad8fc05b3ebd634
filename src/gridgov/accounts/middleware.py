"""Idle sessions end after GRIDGOV_SESSION_IDLE_SECONDS (等保2.0: 登录连接超时自动退出)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout

LAST_SEEN_KEY = "gridgov_last_seen"


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get(LAST_SEEN_KEY)
            if last is not None and now - float(last) > settings.GRIDGOV_SESSION_IDLE_SECONDS:
                from gridgov.accounts.services import record_audit
                from gridgov.accounts.models import AuditEventType

                record_audit(AuditEventType.SESSION_EXPIRED, user=user, request=request, success=True)
                logout(request)
                request.gridgov_session_expired = True
            else:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)
