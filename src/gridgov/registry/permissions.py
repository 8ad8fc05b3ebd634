"""Who may do what in the registry, in one place (checked with core's `require`; a refusal is a 403 and a
`permission_denied` audit event that survives the use case's rollback)."""

from django.utils.translation import gettext_lazy as _

from gridgov.accounts.roles import Role
from gridgov.core.principal import Permission, declare

WRITER_ROLES = (Role.COMMUNITY_STAFF, Role.GRID_WORKER)
REVIEWER_ROLES = (Role.COMMUNITY_STAFF,)
SUBMITTER_ROLES = (Role.BUILDING_HEAD, Role.GRID_WORKER, Role.RESIDENT)
IMPORTER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF)
CARE_EDITOR_ROLES = (Role.COMMUNITY_STAFF,)
EXPORT_ROLES = (Role.GRID_WORKER, Role.BLOCK_CHIEF, Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)


SEARCH_REFUSED = _(
    "Searching by an exact ID number or phone is only for those allowed to see it unmasked; search by name."
)


ENTER_BY_STAFF = _(
    "New residents and changes of an ID number are entered by community staff; submit them for review."
)


def _care_of_resident(principal, resident) -> bool:
    return principal.pii.may("care", resident.building.grid.path)


def _any_care(principal, obj) -> bool:
    return principal.pii.any_care


def _any_id_grant(principal, obj) -> bool:
    return bool(principal.pii.id_number)


def _any_phone(principal, obj) -> bool:
    return bool(principal.pii.phone)


PERMISSIONS = declare(
    {
        # Entering a resident (or changing an ID number) tells of a duplicate in the area: community staff
        # only; grid workers and building heads submit for review (services.check_registration).
        "registry.resident.create": Permission(frozenset(REVIEWER_ROLES), message=ENTER_BY_STAFF),
        "registry.resident.change_id": Permission(frozenset(REVIEWER_ROLES), message=ENTER_BY_STAFF),
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
        # An exact search confirms the whole value: only for those who may see it unmasked (selectors.exact_search).
        "registry.search.id_number": Permission(None, _any_id_grant, SEARCH_REFUSED),
        "registry.search.phone": Permission(None, _any_phone, SEARCH_REFUSED),
    }
)
