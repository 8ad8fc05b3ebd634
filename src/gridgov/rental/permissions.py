"""Who may do what in rental housing, in one place (checked with core's `require`)."""

from gridgov.accounts.roles import Role
from gridgov.core.principal import declare

INSPECTOR_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF)
EDITOR_ROLES = (Role.GRID_WORKER, Role.COMMUNITY_STAFF)
# The registry's importers and exporters (registry/permissions.py): imports are staff work.
IMPORTER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF)
EXPORT_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)
STAR_APPLY_ROLES = (Role.COMMUNITY_STAFF, Role.BUILDING_HEAD)
STAR_ASSESS_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF)

PERMISSIONS = declare(
    {
        "rental.house.create": EDITOR_ROLES,
        "rental.inspect": INSPECTOR_ROLES,
        "rental.import": IMPORTER_ROLES,
        "rental.export": EXPORT_ROLES,
        # The grading rules are configuration: the system administrator publishes a new version.
        "rental.rules.publish": {Role.ADMIN},
        # Star safe buildings and compounds: community staff apply (a building head for a building of
        # their grid), community or subdistrict staff assess and open reviews, the subdistrict awards and
        # withdraws (摘牌); the administrator publishes the star criteria.
        "rental.stars.apply": STAR_APPLY_ROLES,
        "rental.stars.compound": (Role.COMMUNITY_STAFF,),
        "rental.stars.assess": STAR_ASSESS_ROLES,
        "rental.stars.review": STAR_ASSESS_ROLES,
        "rental.stars.award": (Role.SUBDISTRICT_STAFF,),
        "rental.stars.withdraw": (Role.SUBDISTRICT_STAFF,),
        "rental.stars.rules": {Role.ADMIN},
    }
)
