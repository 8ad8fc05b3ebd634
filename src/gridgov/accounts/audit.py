"""The security audit log writer (等保2.0 安全审计): date and time, user, event type, success, source IP,
object. Events are written outside the use case's transaction when the use case fails, so a refused
or failed action is still on record."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _

from gridgov.accounts.models import AuditEvent, AuditEventType
from gridgov.core import timeline
from gridgov.core.errors import Forbidden
from gridgov.core.http import client_ip
from gridgov.core.principal import Denial, forbidden


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
    return timeline.record(
        AuditEvent,
        user_id_ref=getattr(user, "pk", None),
        username=(username or getattr(user, "username", "") or "")[:150],
        event_type=event_type,
        success=success,
        source_ip=client_ip(request),
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        detail=detail or {},
    )


def deny(
    actor,
    *,
    action: str,
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str | int = "",
    message: str | None = None,
) -> Forbidden:
    """Record a refused action and return the Forbidden error for the caller to raise. The record is
    written outside any transaction that rolls back (see `gridgov.core.principal.forbidden`); prefer
    `require(principal, permission)` with a declared permission."""
    return forbidden(
        actor,
        action=action,
        request=request,
        object_type=object_type,
        object_id=object_id,
        message=message or _("You are not allowed to do this"),
    )


def write_denial(denial: Denial) -> None:
    """The audit writer the core principal calls for every refusal."""
    record_audit(
        AuditEventType.PERMISSION_DENIED,
        user=denial.user,
        request=denial.request,
        success=False,
        object_type=denial.object_type,
        object_id=denial.object_id,
        detail={"action": denial.action},
    )
