"""Who may see which personal information, masking, and the access log.

The rule (docs/registry.md):

- Records are first narrowed by data scope (selectors). Within scope everything personal is masked:
  ID numbers 440***********1234, phones 138****5678; the birth date (eight digits of the ID number) is
  shown only beside an unmasked ID number.
- Phones of ordinary residents and of units' contacts: community staff and grid workers of the area
  see them unmasked when they ask (`reveal`).
- ID numbers: only with an explicit grant (`PiiGrant`, field id_number) from the security
  administrator, for an area's subtree, with a reason, optionally expiring; granting is audited.
- Care groups (关爱对象): membership only for community staff of the area and holders of a care grant.
  Nothing else a reader sees differs by membership (the phone rule is the same for every resident).
- An exact search by ID number or phone confirms the value: only for those who may see it unmasked,
  under the paths they may, logged as a reveal (selectors.exact_search).
- Registering an ID number tells of a duplicate only inside the caller's own area; a number registered
  elsewhere is a person who moved (services.check_registration); every attempt is logged.
- The three administrators (system, security, audit; 三权分立) never see personal information, and
  cannot be granted it.
- Every unmasked read, every export, every search by ID number or phone, every registration of an ID
  number is written to `PiiAccessLog` (append-only in the model and in database triggers).
"""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from gridgov.accounts.audit import client_ip
from gridgov.accounts.roles import ADMIN_ROLES, Role
from gridgov.core import timeline
from gridgov.core.pii import NOTHING, PiiPolicy, mask_id, mask_name, mask_phone
from gridgov.core.principal import Principal, principal_for
from gridgov.registry.models import PiiAccessLog, PiiField, PiiGrant

__all__ = [
    "NOTHING",
    "PiiPolicy",
    "load_pii_policy",
    "log_access",
    "mask_id",
    "mask_name",
    "mask_phone",
    "policy_for",
]

PHONE_ROLES = frozenset({Role.COMMUNITY_STAFF, Role.GRID_WORKER})
CARE_ROLES = frozenset({Role.COMMUNITY_STAFF})
MAX_REFS = 1000


# --- the policy ------------------------------------------------------------------------------------
def load_pii_policy(principal: Principal) -> PiiPolicy:
    """The principal's PII policy from their memberships and active grants (the `pii` part of the
    principal, registered in RegistryConfig.ready; loaded on first use, one query)."""
    if principal.has_role(*ADMIN_ROLES):
        return NOTHING
    phone: set[str] = set()
    care: set[str] = set()
    ids: set[str] = set()
    for m in principal.memberships:
        if not m.area_id:
            continue
        if m.role in PHONE_ROLES:
            phone.add(m.area_path)
        if m.role in CARE_ROLES:
            care.add(m.area_path)
    now = timezone.now()
    grants = (
        PiiGrant.objects.filter(user_id=principal.user_id, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("field", "area__path")
    )
    for field, path in grants:
        {PiiField.PHONE: phone, PiiField.ID_NUMBER: ids, PiiField.CARE: care}[field].add(path)
    return PiiPolicy(tuple(sorted(phone)), tuple(sorted(ids)), tuple(sorted(care)))


def policy_for(user) -> PiiPolicy:
    """The user's PII policy: a view of their principal (cached with it on the user object)."""
    return principal_for(user).pii


# --- the access log --------------------------------------------------------------------------------
def log_access(
    user,
    action: str,
    *,
    object_type: str = "",
    ids: list[int] | None = None,
    count: int | None = None,
    fields: list[str] | None = None,
    purpose: str = "",
    request: HttpRequest | None = None,
    endpoint: str = "",
    detail: dict | None = None,
) -> PiiAccessLog:
    ids = list(ids or [])
    refs = "," + ",".join(str(i) for i in ids[:MAX_REFS]) + "," if ids else ""
    if not endpoint and request is not None:
        endpoint = f"{request.method} {request.path}"[:200]
    return timeline.record(
        PiiAccessLog,
        user_id_ref=getattr(user, "pk", None),
        username=(getattr(user, "username", "") or "")[:150],
        action=action,
        object_type=object_type,
        object_refs=refs,
        count=len(ids) if count is None else count,
        fields=sorted(set(fields or [])),
        purpose=(purpose or "")[:200],
        endpoint=endpoint[:200],
        source_ip=client_ip(request),
        detail=detail or {},
    )
