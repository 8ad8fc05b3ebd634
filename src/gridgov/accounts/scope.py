"""Data scope: what a user may see, as the union of their memberships (RuoYi's data scopes:
all / own area and below / own area / own organisation / self).

Selectors turn a scope into a `Q` filter. Every read goes through a selector; nothing in views or the
front end narrows data. The scope is part of the request's principal (`gridgov.core.principal`): this
module holds the accounts loader that fills it from the memberships, and `scope_for`, a view of it.
"""

from __future__ import annotations

from django.db.models import Q

from gridgov.accounts.roles import ADMIN_ROLES, ROLE_SCOPE, DataScope
from gridgov.core.principal import ANONYMOUS_SCOPE, MembershipRecord, Principal, principal_for
from gridgov.core.principal import Scope as UserScope

ANONYMOUS = ANONYMOUS_SCOPE

__all__ = ["ANONYMOUS", "UserScope", "load_memberships", "scope_for"]


def load_memberships(principal: Principal) -> None:
    """The principal's memberships, roles and data scope: one query (registered in AccountsConfig.ready)."""
    from gridgov.accounts.models import Membership
    from gridgov.accounts.posts import delegated_memberships

    records = []
    everything = False
    subtree: list[str] = []
    area_ids: list[int] = []
    area_paths: list[str] = []
    orgs: list[int] = []
    jurisdiction: list[str] = []
    # One query: the user's own memberships and, while colleagues are on leave with this user as their
    # backup (AB岗, accounts/posts.py), those colleagues' staff memberships.
    memberships = list(
        Membership.objects.filter(
            Q(user_id=principal.user_id) | delegated_memberships(principal.user_id)
        ).select_related("area", "organisation__area")
        if principal.user_id is not None
        else Membership.objects.none()  # an unsaved user has no memberships
    )
    if any(m.role in ADMIN_ROLES for m in memberships if m.user_id == principal.user_id):
        # 三权分立: an administrator's business roles (left over from before the roles were made exclusive)
        # give no access, nor do colleagues' posts; only the administrator role counts.
        memberships = [m for m in memberships if m.role in ADMIN_ROLES and m.user_id == principal.user_id]
    for m in memberships:
        org = m.organisation
        org_area = org.area.path if org is not None and org.area is not None else ""
        records.append(
            MembershipRecord(
                role=m.role,
                area_id=m.area_id,
                area_path=m.area.path if m.area is not None else "",
                organisation_id=m.organisation_id,
                organisation_area_path=org_area,
                on_behalf_of=None if m.user_id == principal.user_id else m.user_id,
            )
        )
        kind = ROLE_SCOPE.get(m.role, DataScope.SELF)
        if kind == DataScope.ALL:
            everything = True
        elif kind == DataScope.AREA_AND_BELOW and m.area is not None:
            subtree.append(m.area.path)
        elif kind == DataScope.AREA and m.area is not None:
            area_ids.append(m.area.pk)
            area_paths.append(m.area.path)
        elif kind == DataScope.ORGANISATION and m.organisation_id:
            orgs.append(m.organisation_id)
            if org_area:
                jurisdiction.append(org_area)
    principal.set_memberships(records)
    principal.scope = UserScope(
        user_id=principal.user_id,
        roles=principal.roles,
        all=everything,
        subtree_paths=tuple(sorted(set(subtree))),
        area_ids=tuple(sorted(set(area_ids))),
        area_paths=tuple(sorted(set(area_paths))),
        organisation_ids=tuple(sorted(set(orgs))),
        jurisdiction_paths=tuple(sorted(set(jurisdiction))),
    )


def scope_for(user) -> UserScope:
    """The user's data scope: the scope of their principal (loaded once per request)."""
    return principal_for(user).scope
