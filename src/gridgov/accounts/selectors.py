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
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gridgov.accounts.models import ApiToken, AuditEvent, Membership, Organisation, OrganisationKind, User
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


def users_for(user, *, q: str = "") -> QuerySet[User]:
    qs = User.objects.all()
    memberships = Membership.objects.select_related("area", "organisation").order_by("role", "id")
    if not sees_all_accounts(user):
        visible = _membership_visibility(user, scope_for(user))
        qs = qs.filter(Q(pk=user.pk) | Q(pk__in=Membership.objects.filter(visible).values("user_id")))
        memberships = memberships.filter(visible)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
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
