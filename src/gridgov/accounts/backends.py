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
        from gridgov.accounts.services import register_login_failure

        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            User().set_password(password)
            record_audit(
                AuditEventType.LOGIN,
                username=str(username),
                request=request,
                success=False,
                detail={"reason": "unknown_user", "via": "admin_site"},
            )
            return None
        now = timezone.now()
        if user.locked_until is not None and user.locked_until > now:
            reason = "locked"
        elif not user.check_password(password):
            if user.locked_until is not None:
                User.objects.filter(pk=user.pk, locked_until=user.locked_until).update(
                    failed_logins=0, locked_until=None
                )
            register_login_failure(user, request=request, reason="password")
            return None
        elif user.totp_enabled:
            reason = "totp_required"
        elif not self.user_can_authenticate(user):
            reason = "inactive"
        else:
            User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
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
