"""An authentication backend for logins outside the JSON API (the Django admin site at /admin/):
the same failed-login lock and audit events as POST /api/v1/auth/login.

The admin site cannot ask for the TOTP code, so users who enrolled a second factor are refused there.
Enable with AUTHENTICATION_BACKENDS = ["gridgov.accounts.backends.LockoutModelBackend"]."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType, User


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        from gridgov.accounts import services
        from gridgov.core import ratelimit

        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        try:
            ratelimit.check(request, "login-address")
        except ratelimit.RateLimited:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)
            ratelimit.hit(request, "login-address")
            record_audit(
                AuditEventType.LOGIN,
                username=str(username),
                request=request,
                success=False,
                detail={"reason": "unknown_user", "via": "admin_site"},
            )
            return None
        rows = services._lock_rows(user, request)
        claimed, locking = services._claim_attempt(rows, timezone.now())
        if not claimed:
            reason = "locked"
        elif not user.check_password(password):
            ratelimit.hit(request, "login-address")
            services._record_failure(user, request, rows, reason="password", locking=locking)
            return None
        elif user.totp_enabled:
            services._release_attempt(rows)
            reason = "totp_required"
        elif not self.user_can_authenticate(user):
            reason = "inactive"
        elif user.must_change_password:
            services._release_attempt(rows)  # the web app leads the user to change it first
            reason = "password_change_required"
        else:
            services._reset_attempts(user, rows)
            record_audit(
                AuditEventType.LOGIN,
                user=user,
                request=request,
                object_type="user",
                object_id=user.pk,
                detail={"via": "admin_site"},
            )
            return user
        record_audit(
            AuditEventType.LOGIN,
            user=user,
            request=request,
            success=False,
            object_type="user",
            object_id=user.pk,
            detail={"reason": reason, "via": "admin_site"},
        )
        return None
