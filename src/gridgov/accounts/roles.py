"""The roles of MISSION.md and the data scope each one carries (on RuoYi's pattern)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    BUILDING_HEAD = "building_head", _("Building head")
    BLOCK_CHIEF = "block_chief", _("Block chief")
    COMMUNITY_STAFF = "community_staff", _("Community staff")
    SUBDISTRICT_STAFF = "subdistrict_staff", _("Subdistrict staff")
    DEPARTMENT_HANDLER = "department_handler", _("Department handler")
    PARTNER_ORG = "partner_org", _("Partner unit")
    PARTY_MEMBER = "party_member", _("Party member")
    VOLUNTEER = "volunteer", _("Volunteer")
    RESIDENT = "resident", _("Resident")
    LEADER = "leader", _("Leader / command centre")
    ADMIN = "admin", _("System administrator")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    AUDIT_ADMIN = "audit_admin", _("Audit administrator")


class DataScope(models.TextChoices):
    ALL = "all", _("All data")
    AREA_AND_BELOW = "area_and_below", _("Own area and below")
    AREA = "area", _("Own area only")
    ORGANISATION = "organisation", _("Own organisation")
    SELF = "self", _("Own records only")


ROLE_SCOPE: dict[str, str] = {
    Role.GRID_WORKER: DataScope.AREA_AND_BELOW,  # their grids
    Role.BUILDING_HEAD: DataScope.AREA,  # the grid of their building
    Role.BLOCK_CHIEF: DataScope.AREA_AND_BELOW,
    Role.COMMUNITY_STAFF: DataScope.AREA_AND_BELOW,
    Role.SUBDISTRICT_STAFF: DataScope.AREA_AND_BELOW,
    Role.LEADER: DataScope.AREA_AND_BELOW,
    Role.DEPARTMENT_HANDLER: DataScope.ORGANISATION,
    Role.PARTNER_ORG: DataScope.ORGANISATION,
    Role.PARTY_MEMBER: DataScope.AREA,  # their red grid
    Role.VOLUNTEER: DataScope.SELF,
    Role.RESIDENT: DataScope.SELF,
    Role.ADMIN: DataScope.ALL,
    Role.SECURITY_ADMIN: DataScope.SELF,  # manages accounts' security, not business data (三权分立)
    Role.AUDIT_ADMIN: DataScope.SELF,  # reads the audit log, nothing else (三权分立)
}

# Roles whose membership names an area, and the area level(s) it must be.
AREA_ROLES: dict[str, tuple[str, ...]] = {
    Role.GRID_WORKER: ("grid",),
    Role.BUILDING_HEAD: ("grid",),
    Role.BLOCK_CHIEF: ("block",),
    Role.COMMUNITY_STAFF: ("community",),
    Role.SUBDISTRICT_STAFF: ("subdistrict",),
    Role.LEADER: ("district", "subdistrict"),
    Role.PARTY_MEMBER: ("grid",),
}
# Roles whose membership names an organisation, and the organisation kind it must be.
ORGANISATION_ROLES: dict[str, str] = {
    Role.DEPARTMENT_HANDLER: "department",
    Role.PARTNER_ORG: "partner",
}

# Staff roles (organisations they may look up, cases they may suggest for).
STAFF_ROLES = frozenset(
    {
        Role.GRID_WORKER,
        Role.BLOCK_CHIEF,
        Role.COMMUNITY_STAFF,
        Role.SUBDISTRICT_STAFF,
        Role.DEPARTMENT_HANDLER,
        Role.LEADER,
        Role.ADMIN,
        Role.SECURITY_ADMIN,
        Role.AUDIT_ADMIN,
    }
)
ADMIN_ROLES = frozenset({Role.ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})

# Roles whose data scope reaches beyond the user's own records (so they read other people's personal
# data: the registry, reporters of cases), and the administrators: the TOTP second factor becomes
# mandatory for them when GRIDGOV_MFA_REQUIRED is on. Derived from ROLE_SCOPE, not listed by hand, so a
# new role or a widened scope is covered at once.
MFA_ROLES = frozenset(role for role, scope in ROLE_SCOPE.items() if scope != DataScope.SELF) | ADMIN_ROLES
