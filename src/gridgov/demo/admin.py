"""The demo's administration records: personal-data grants made by the security administrator (one valid,
one revoked), so that 安全管理 → 敏感信息授权 shows what a district's looks like. Users, organisations, roles
and the audit log are filled by the rest of the demo and by every login."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role


def _first(role: str):
    return (
        Membership.objects.filter(role=role, user__username__startswith=f"{role}-")
        .select_related("user", "area")
        .order_by("user__username")
        .first()
    )


def generate_admin(*, log=print) -> int:
    """Make the demo's PII grants; returns how many were made (0 when the roles are missing). Written as
    rows, like the rest of the demo's history: the security audit log is append-only, so a demo that wrote
    audit events could not be reset (the audit log fills with the logins of whoever tries the demo)."""
    from gridgov.registry.models import PiiGrant

    security = _first(Role.SECURITY_ADMIN)
    sub_staff = _first(Role.SUBDISTRICT_STAFF)
    block_chief = _first(Role.BLOCK_CHIEF)
    if security is None or sub_staff is None or block_chief is None:
        return 0
    now = timezone.now()
    with transaction.atomic():
        PiiGrant.objects.create(
            user_id=sub_staff.user_id,
            field="phone",
            area=sub_staff.area,
            reason="独居老人夏季高温回访，需联系本人（演示）",
            granted_by=security.user,
            expires_at=now + dt.timedelta(days=90),
        )
        PiiGrant.objects.create(
            user_id=block_chief.user_id,
            field="id_number",
            area=block_chief.area,
            reason="出租屋核查，已完成（演示）",
            granted_by=security.user,
            revoked_at=now,
            revoked_by=security.user,
        )
    log("Demo personal-data grants: 1 valid, 1 revoked")
    return 2
