"""Data scope: what a user may see, as the union of their memberships (RuoYi's data scopes:
all / own area and below / own area / own organisation / self).

Selectors turn a `UserScope` into a `Q` filter. Every read goes through a selector; nothing in views
or the front end narrows data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from gridgov.accounts.roles import ROLE_SCOPE, DataScope

_NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class UserScope:
    user_id: int | None
    roles: frozenset[str] = frozenset()
    all: bool = False
    subtree_paths: tuple[str, ...] = ()  # area and below: materialised path prefixes
    area_ids: tuple[int, ...] = ()  # own area only
    area_paths: tuple[str, ...] = ()  # the paths of those areas (for records located below them)
    organisation_ids: tuple[int, ...] = ()
    # The areas served by the user's organisations (a department's district): territory they may look at.
    jurisdiction_paths: tuple[str, ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return not (self.all or self.subtree_paths or self.area_ids or self.organisation_ids)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    # --- filters -------------------------------------------------------------------------------
    def area_filter(self, path_field: str = "path", *, include_jurisdiction: bool = False) -> Q:
        """Records that belong to an area, given the name of the field that holds the area's path
        (e.g. "path" on Area, "grid__path" on Building)."""
        if self.all:
            return Q()
        q = _NOTHING
        paths = self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        for p in _minimal_prefixes(paths):
            q |= Q(**{f"{path_field}__startswith": p})
        for p in self.area_paths:
            q |= Q(**{path_field: p})
        return q

    def visible_paths(self, *, include_jurisdiction: bool = False) -> tuple[str, ...] | None:
        """Path prefixes of the user's subtrees; None means everything."""
        if self.all:
            return None
        return _minimal_prefixes(
            self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        )

    def can_see_path(self, path: str, *, include_jurisdiction: bool = False) -> bool:
        if self.all:
            return True
        prefixes = self.subtree_paths + (self.jurisdiction_paths if include_jurisdiction else ())
        return any(path.startswith(p) for p in prefixes) or path in self.area_paths


def _minimal_prefixes(paths: tuple[str, ...]) -> tuple[str, ...]:
    """Drop paths already covered by a shorter prefix, so filters stay small."""
    out: list[str] = []
    for p in sorted(set(paths), key=len):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return tuple(sorted(out))


ANONYMOUS = UserScope(user_id=None)


def scope_for(user) -> UserScope:
    """The user's data scope, computed once per request and cached on the user object."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    cached = getattr(user, "_gridgov_scope", None)
    if cached is not None:
        return cached
    from gridgov.accounts.models import Membership

    roles: set[str] = set()
    everything = False
    subtree: list[str] = []
    area_ids: list[int] = []
    area_paths: list[str] = []
    orgs: list[int] = []
    jurisdiction: list[str] = []
    memberships = Membership.objects.filter(user=user).select_related("area", "organisation__area")
    for m in memberships:
        roles.add(m.role)
        kind = ROLE_SCOPE.get(m.role, DataScope.SELF)
        if kind == DataScope.ALL:
            everything = True
        elif kind == DataScope.AREA_AND_BELOW and m.area is not None:
            subtree.append(m.area.path)
        elif kind == DataScope.AREA and m.area is not None:
            area_ids.append(m.area.pk)
            area_paths.append(m.area.path)
        elif kind == DataScope.ORGANISATION and m.organisation is not None:
            orgs.append(m.organisation.pk)
            if m.organisation.area is not None:
                jurisdiction.append(m.organisation.area.path)
    scope = UserScope(
        user_id=user.pk,
        roles=frozenset(roles),
        all=everything,
        subtree_paths=tuple(sorted(set(subtree))),
        area_ids=tuple(sorted(set(area_ids))),
        area_paths=tuple(sorted(set(area_paths))),
        organisation_ids=tuple(sorted(set(orgs))),
        jurisdiction_paths=tuple(sorted(set(jurisdiction))),
    )
    user._gridgov_scope = scope
    return scope
