"""Every write on accounts: login security, tokens, memberships, the audit log."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest
from django.utils import timezone

from gridgov.accounts.models import ApiToken, AuditEvent, AuditEventType


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_audit(
    event_type: str,
    *,
    user=None,
    username: str = "",
    request: HttpRequest | None = None,
    success: bool = True,
    object_type: str = "",
    object_id: str | int = "",
    detail: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        user_id_ref=getattr(user, "pk", None),
        username=username or getattr(user, "username", "") or "",
        event_type=event_type,
        success=success,
        source_ip=client_ip(request),
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
    )


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate_token(secret: str, request: HttpRequest | None = None):
    """The user behind a valid, unexpired, unrevoked API token, or None."""
    if not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
