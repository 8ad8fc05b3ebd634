"""Who may do what in rental housing, in one place (checked with core's `require`)."""

from gridgov.accounts.roles import Role
from gridgov.core.principal import declare

INSPECTOR_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF)
EDITOR_ROLES = (Role.GRID_WORKER, Role.COMMUNITY_STAFF)
# The registry's importers and exporters (registry/permissions.py): imports are staff work.
IMPORTER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF)
EXPORT_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)

PERMISSIONS = declare(
    {
        "rental.house.create": EDITOR_ROLES,
        "rental.inspect": INSPECTOR_ROLES,
        "rental.import": IMPORTER_ROLES,
        "rental.export": EXPORT_ROLES,
        # The grading rules are configuration: the system administrator publishes a new version.
        "rental.rules.publish": {Role.ADMIN},
    }
)
