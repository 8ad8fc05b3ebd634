"""Who may do what in the registry, in one place (checked with core's `require`; a refusal is a 403 and a
`permission_denied` audit event that survives the use case's rollback)."""

from gridgov.accounts.roles import Role
from gridgov.core.principal import Permission, declare

WRITER_ROLES = (Role.COMMUNITY_STAFF, Role.GRID_WORKER)
REVIEWER_ROLES = (Role.COMMUNITY_STAFF,)
SUBMITTER_ROLES = (Role.BUILDING_HEAD, Role.GRID_WORKER, Role.RESIDENT)
IMPORTER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF)
CARE_EDITOR_ROLES = (Role.COMMUNITY_STAFF,)
EXPORT_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)


def _care_of_resident(principal, resident) -> bool:
    return principal.pii.may("care", resident.building.grid.path)


def _any_care(principal, obj) -> bool:
    return principal.pii.any_care


PERMISSIONS = declare(
    {
        "registry.resident.create": WRITER_ROLES,
        "registry.resident.update": WRITER_ROLES,
        "registry.unit.create": WRITER_ROLES,
        "registry.unit.update": WRITER_ROLES,
        "registry.submit": SUBMITTER_ROLES,
        "registry.review": REVIEWER_ROLES,
        "registry.import": IMPORTER_ROLES,
        "registry.export": EXPORT_ROLES,
        "registry.pii_grant": {Role.SECURITY_ADMIN},
        "registry.pii_revoke": {Role.SECURITY_ADMIN},
        "registry.access_log.read": {Role.AUDIT_ADMIN},
        "registry.care.add": Permission(frozenset(CARE_EDITOR_ROLES), _care_of_resident),
        "registry.care.remove": CARE_EDITOR_ROLES,
        # Care groups are read by community staff of the area and by holders of a care grant.
        "registry.care.read": Permission(None, _any_care),
        "registry.care.filter": Permission(None, _any_care),
    }
)
