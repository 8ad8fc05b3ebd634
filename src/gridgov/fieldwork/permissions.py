"""Who may do what in field work, in one place (checked with core's `require`)."""

from gridgov.accounts.roles import Role
from gridgov.core.principal import declare

PATROLLER_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF)

PERMISSIONS = declare(
    {
        "fieldwork.patrol": PATROLLER_ROLES,
        "fieldwork.plan.manage": (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF),
    }
)
