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
    """Make the demo's PII grants; returns how many were made (0 when the roles are missing)."""
    from gridgov.registry import services as registry

    security = _first(Role.SECURITY_ADMIN)
    sub_staff = _first(Role.SUBDISTRICT_STAFF)
    block_chief = _first(Role.BLOCK_CHIEF)
    if security is None or sub_staff is None or block_chief is None:
        return 0
    actor = security.user
    with transaction.atomic():
        registry.grant_pii(
            actor=actor,
            user_id=sub_staff.user_id,
            field="phone",
            area_code=sub_staff.area.code,
            reason="独居老人夏季高温回访，需联系本人（演示）",
            expires_at=timezone.now() + dt.timedelta(days=90),
        )
        revoked = registry.grant_pii(
            actor=actor,
            user_id=block_chief.user_id,
            field="id_number",
            area_code=block_chief.area.code,
            reason="出租屋核查，已完成（演示）",
        )
        registry.revoke_pii_grant(actor=actor, grant_id=revoked.pk)
    log("Demo personal-data grants: 1 valid, 1 revoked")
    return 2
