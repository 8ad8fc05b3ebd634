"""Every read on accounts, already narrowed to what the user may see (accounts/scope.py).

Users: the system and security administrators see every account; territorial staff see the accounts
whose memberships lie in their area subtree (or belong to an organisation serving it); department and
partner staff see the accounts of their own organisations; everybody sees themselves. Of each visible
account only the memberships the reader may see are shown.

Organisations: departments are visible to every signed-in staff user (a community picks them when it
blows the whistle); community committees and partner units only inside the reader's area subtree, or
when the reader belongs to them.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gridgov.accounts.models import (
    ApiToken,
    AuditEvent,
    AuditEventType,
    LoginLock,
    Membership,
    Organisation,
    OrganisationKind,
    User,
)
from gridgov.accounts.roles import MFA_ROLES, STAFF_ROLES, DataScope, Role
from gridgov.accounts.scope import UserScope, scope_for
from gridgov.core.dates import day_end, day_start
from gridgov.core.errors import NotFound
from gridgov.core.principal import require

# --- the signed-in user ----------------------------------------------------------------------------


def mfa_enrolment_required(user) -> bool:
    """True when GRIDGOV_MFA_REQUIRED is on and a user who can read other people's personal data (or an
    administrator: roles.MFA_ROLES) has not enrolled the TOTP second factor yet."""
    if not getattr(settings, "GRIDGOV_MFA_REQUIRED", False):
        return False
    if user is None or not getattr(user, "is_authenticated", False) or user.totp_enabled:
        return False
    return bool(scope_for(user).roles & MFA_ROLES)


def _area_code(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def scope_summary(user) -> dict:
    scope = scope_for(user)
    kinds: list[str] = []
    if scope.all:
        kinds.append(DataScope.ALL.value)
    if scope.subtree_paths:
        kinds.append(DataScope.AREA_AND_BELOW.value)
    if scope.area_ids:
        kinds.append(DataScope.AREA.value)
    if scope.organisation_ids:
        kinds.append(DataScope.ORGANISATION.value)
    if not kinds:
        kinds.append(DataScope.SELF.value)
    organisation_codes = list(
        Organisation.objects.filter(pk__in=scope.organisation_ids)
        .order_by("code")
        .values_list("code", flat=True)
    )
    return {
        "kind": kinds[0],
        "kinds": kinds,
        "area_codes": sorted({_area_code(p) for p in scope.subtree_paths + scope.area_paths}),
        "organisation_codes": organisation_codes,
    }


def profile(user) -> dict:
    """What GET /auth/me (and a successful login) answers."""
    memberships = Membership.objects.filter(user=user).select_related("area", "organisation")
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "roles": list(memberships),
        "scope": scope_summary(user),
        "totp_enabled": user.totp_enabled,
        "mfa_enrolment_required": mfa_enrolment_required(user),
        "password_change_required": bool(getattr(user, "must_change_password", False)),
        "language": get_language() or settings.LANGUAGE_CODE,
        "preferred_language": user.language,
        "session_idle_seconds": settings.GRIDGOV_SESSION_IDLE_SECONDS,
    }


# --- users ---------------------------------------------------------------------------------------


def sees_all_accounts(user) -> bool:
    scope = scope_for(user)
    return scope.all or scope.has_role(Role.ADMIN, Role.SECURITY_ADMIN)


def _membership_visibility(user, scope: UserScope) -> Q:
    """Memberships the user may see: their own, those in their area subtree (directly or through the
    organisation's area), and those of their own organisations."""
    q = Q(user_id=user.pk)
    q |= scope.area_filter("area__path")
    q |= scope.area_filter("organisation__area__path")
    if scope.organisation_ids:
        q |= Q(organisation_id__in=scope.organisation_ids)
    return q


def users_for(
    user,
    *,
    q: str = "",
    role: str | None = None,
    organisation: str | None = None,
    is_active: bool | None = None,
    locked: bool | None = None,
) -> QuerySet[User]:
    """The accounts the user may see, filtered: by name, by a role or an organisation held (among the
    memberships the user may see), by the active flag and by whether the account is locked now."""
    qs = User.objects.all()
    memberships = Membership.objects.select_related("area", "organisation", "building").order_by("role", "id")
    if not sees_all_accounts(user):
        visible = _membership_visibility(user, scope_for(user))
        qs = qs.filter(Q(pk=user.pk) | Q(pk__in=Membership.objects.filter(visible).values("user_id")))
        memberships = memberships.filter(visible)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    if role:
        qs = qs.filter(pk__in=memberships.filter(role=role).values("user_id"))
    if organisation:
        qs = qs.filter(pk__in=memberships.filter(organisation__code=organisation).values("user_id"))
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    if locked is not None:
        now = timezone.now()
        locked_q = Q(locked_until__gt=now) | Q(
            pk__in=LoginLock.objects.filter(locked_until__gt=now).values("user_id")
        )
        qs = qs.filter(locked_q) if locked else qs.exclude(locked_q)
    return qs.prefetch_related(Prefetch("memberships", queryset=memberships))


def user_detail(user, user_id: int) -> User:
    """One visible account; a missing or out-of-scope account answers 404 alike."""
    found = users_for(user).filter(pk=user_id).first()
    if found is None:
        raise NotFound(_("No such user, or outside your area."))
    return found


# --- organisations -------------------------------------------------------------------------------


def organisations_for(user, *, q: str = "", kind: str | None = None) -> QuerySet[Organisation]:
    scope = scope_for(user)
    qs = Organisation.objects.select_related("area")
    if not sees_all_accounts(user):
        visible = Q(pk__in=scope.organisation_ids) if scope.organisation_ids else Q(pk__in=[])
        if scope.roles & STAFF_ROLES:
            visible |= Q(kind=OrganisationKind.DEPARTMENT)
        local = scope.area_filter("area__path")
        visible |= Q(kind__in=[OrganisationKind.COMMITTEE, OrganisationKind.PARTNER]) & local
        qs = qs.filter(visible)
    if kind:
        qs = qs.filter(kind=kind)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return qs.order_by("kind", "code")


def organisation_detail(user, organisation_code: str) -> Organisation:
    found = organisations_for(user).filter(code=organisation_code).first()
    if found is None:
        raise NotFound(_("No such organisation, or outside your area."))
    return found


# --- API tokens ----------------------------------------------------------------------------------


def tokens_of(user) -> QuerySet[ApiToken]:
    """The user's own API tokens (nobody sees another person's tokens)."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


# --- the security audit log ---------------------------------------------------------------------


def audit_events(
    actor,
    *,
    request: HttpRequest | None = None,
    username: str | None = None,
    event_type: str | None = None,
    success: bool | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit log, for the audit administrator only (三权分立); dates are whole local days, inclusive."""
    require(actor, "audit.read", ("audit", ""), request=request)
    qs = AuditEvent.objects.all()
    if username:
        qs = qs.filter(username=username.strip())
    if event_type:
        qs = qs.filter(event_type=event_type)
    if success is not None:
        qs = qs.filter(success=success)
    if date_from:
        qs = qs.filter(at__gte=day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=day_end(date_to))
    return qs.order_by("-at", "-id")


# --- the security administrator's records --------------------------------------------------------

# The audit events about signing in that the security administrator follows (the audit administrator
# reads the whole log).
LOGIN_EVENT_TYPES = (
    AuditEventType.LOGIN,
    AuditEventType.LOGIN_LOCKED,
    AuditEventType.UNLOCK,
    AuditEventType.TOTP_RESET,
    AuditEventType.TOTP_ENROL,
    AuditEventType.PASSWORD_CHANGE,
)


def locked_accounts(actor, *, request: HttpRequest | None = None) -> list[dict]:
    """Accounts locked now: by failed logins on the account, or (an administrator) from one address."""
    require(actor, "security.login_records", ("user", ""), request=request)
    now = timezone.now()
    rows: list[dict] = []
    for user in User.objects.filter(locked_until__gt=now).order_by("-locked_until", "username"):
        rows.append(_lock_row(user, user.failed_logins, user.locked_until, ""))
    locks = LoginLock.objects.filter(locked_until__gt=now).select_related("user").order_by("-locked_until")
    for lock in locks:
        rows.append(_lock_row(lock.user, lock.failed_logins, lock.locked_until, lock.address))
    return rows


def _lock_row(user: User, failures: int, locked_until, address: str) -> dict:
    return {
        "user_id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "failed_logins": failures,
        "locked_until": locked_until,
        "address": address,
    }


def login_records(
    actor,
    *,
    request: HttpRequest | None = None,
    username: str | None = None,
    event_type: str | None = None,
    success: bool | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """The sign-in part of the audit log (logins, lockouts, unlocks, second factors, password changes)
    for the security administrator; dates are whole local days, inclusive."""
    require(actor, "security.login_records", ("audit", ""), request=request)
    qs = AuditEvent.objects.filter(event_type__in=LOGIN_EVENT_TYPES)
    if username:
        qs = qs.filter(username=username.strip())
    if event_type:
        qs = qs.filter(event_type=event_type)
    if success is not None:
        qs = qs.filter(success=success)
    if date_from:
        qs = qs.filter(at__gte=day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=day_end(date_to))
    return qs.order_by("-at", "-id")


# --- the login page ------------------------------------------------------------------------------

# Whether the database holds the demo district, and the demo password: the demo app registers a probe
# (accounts does not import the apps above it). A deployment without the demo shows no demo hint.
_demo_probes: list = []


def register_demo_probe(probe) -> None:
    """`probe()` → the demo password when the demo's users are in the database, else None."""
    if probe not in _demo_probes:
        _demo_probes.append(probe)


def login_info() -> dict:
    for probe in _demo_probes:
        password = probe()
        if password:
            return {"demo": True, "demo_password": password}
    return {"demo": False, "demo_password": None}


# --- roles and their data scope (code-defined: accounts/roles.py) ---------------------------------


def role_catalogue() -> list[dict]:
    """Every role with its data scope and where it is held (area levels or organisation kind)."""
    from gridgov.accounts.roles import ADMIN_ROLES, AREA_ROLES, ORGANISATION_ROLES, ROLE_SCOPE

    out = []
    for role in Role:
        scope = DataScope(ROLE_SCOPE[role])
        kind = ORGANISATION_ROLES.get(role)
        out.append(
            {
                "role": role.value,
                "label": str(role.label),
                "scope": scope.value,
                "scope_label": str(scope.label),
                "area_levels": list(AREA_ROLES.get(role, ())),
                "organisation_kind": kind,
                "organisation_kind_label": str(OrganisationKind(kind).label) if kind else None,
                "administrator": role in ADMIN_ROLES,
                "mfa": role in MFA_ROLES,
            }
        )
    return out


# --- areas to assign (memberships, organisations, PII grants) --------------------------------------


def areas_to_assign(
    actor,
    *,
    request: HttpRequest | None = None,
    q: str = "",
    levels: list[str] | None = None,
    limit: int = 50,
):
    """Active areas by name or code for the system and security administrators, who hold no area of
    their own: names and codes only (no business data), at most `limit`, broadest level first."""
    from gridgov.territory.models import Area

    require(actor, "area.pick", ("area", ""), request=request)
    qs = Area.objects.filter(is_active=True).select_related("parent")
    if levels:
        qs = qs.filter(level__in=levels)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name__icontains=q))
    return list(qs.order_by("depth", "code")[:limit])
