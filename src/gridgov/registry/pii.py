"""Who may see which personal information, masking, and the access log.

The rule (docs/registry.md):

- Records are first narrowed by data scope (selectors). Within scope everything personal is masked:
  ID numbers 440***********1234, phones 138****5678.
- Phones of ordinary residents and of units' contacts: community staff and grid workers of the area
  see them unmasked when they ask (`reveal`).
- ID numbers: only with an explicit grant (`PiiGrant`, field id_number) from the security
  administrator, for an area's subtree, with a reason, optionally expiring; granting is audited.
- Care groups (关爱对象): membership, and the phones of residents in a care group, only for community
  staff of the area and holders of a care grant.
- The three administrators (system, security, audit; 三权分立) never see personal information, and
  cannot be granted it.
- Every unmasked read, every export, every search by ID number or phone is written to `PiiAccessLog`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from gridgov.accounts.audit import client_ip
from gridgov.accounts.models import Membership
from gridgov.accounts.roles import ADMIN_ROLES, Role
from gridgov.accounts.scope import scope_for
from gridgov.core import timeline
from gridgov.registry.models import PiiAccessLog, PiiField, PiiGrant

PHONE_ROLES = frozenset({Role.COMMUNITY_STAFF, Role.GRID_WORKER})
CARE_ROLES = frozenset({Role.COMMUNITY_STAFF})
MAX_REFS = 1000


# --- masking ---------------------------------------------------------------------------------------
def mask_id(value: str) -> str:
    """440***********1234: the province and city digits and the last four stay."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678; 0755****5678 for a landline."""
    if not value:
        return ""
    if len(value) < 7:
        return "*" * len(value)
    head = 4 if value.startswith("0") else 3
    return value[:head] + "****" + value[-4:]


# --- the policy ------------------------------------------------------------------------------------
def _covers(paths: tuple[str, ...], path: str) -> bool:
    return any(path.startswith(p) for p in paths)


@dataclass(frozen=True)
class PiiPolicy:
    """Path prefixes under which the user may see each kind of personal information unmasked."""

    phone: tuple[str, ...] = ()
    id_number: tuple[str, ...] = ()
    care: tuple[str, ...] = ()

    def may(self, field: str, path: str) -> bool:
        return _covers(getattr(self, field), path or "")

    @property
    def any_care(self) -> bool:
        return bool(self.care)

    def care_filter(self, path_field: str) -> Q:
        q = Q(pk__in=[])
        for p in self.care:
            q |= Q(**{f"{path_field}__startswith": p})
        return q


NOTHING = PiiPolicy()


def policy_for(user) -> PiiPolicy:
    """The user's PII policy from their roles and their active grants (cached on the user object)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return NOTHING
    cached = getattr(user, "_gridgov_pii_policy", None)
    if cached is not None:
        return cached
    scope = scope_for(user)
    if scope.has_role(*ADMIN_ROLES):
        policy = NOTHING
    else:
        phone: set[str] = set()
        care: set[str] = set()
        ids: set[str] = set()
        for m in Membership.objects.filter(user=user, area__isnull=False).select_related("area"):
            if m.role in PHONE_ROLES:
                phone.add(m.area.path)
            if m.role in CARE_ROLES:
                care.add(m.area.path)
        now = timezone.now()
        grants = (
            PiiGrant.objects.filter(user=user, revoked_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .select_related("area")
        )
        for g in grants:
            {PiiField.PHONE: phone, PiiField.ID_NUMBER: ids, PiiField.CARE: care}[g.field].add(g.area.path)
        policy = PiiPolicy(tuple(sorted(phone)), tuple(sorted(ids)), tuple(sorted(care)))
    user._gridgov_pii_policy = policy
    return policy


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
