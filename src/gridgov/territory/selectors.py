"""Every read of the territory, already narrowed to what the user may see.

Visibility is one prefix filter on the materialised path (`UserScope.area_filter(…,
include_jurisdiction=True)`): territorial roles see their area's subtree (a grid worker their grids),
department and partner roles the area their organisation serves, residents and volunteers nothing,
administrators everything. The areas above a user's own area are not visible, except through
`my_areas()` (the areas of the user's own memberships). Buildings and houses follow their grid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from gridgov.accounts.scope import scope_for
from gridgov.core.errors import NotFound
from gridgov.territory import geo, locator, paths
from gridgov.territory.models import Area, Building, House, Level


def _area_scope(user, field: str = "path") -> Q:
    return scope_for(user).area_filter(field, include_jurisdiction=True)


def visible_areas(user) -> QuerySet[Area]:
    return Area.objects.filter(_area_scope(user)).select_related("parent")


def _under(code: str | None) -> Q | None:
    """Areas at or below the area with this code (by path prefix), or None when there is no such area."""
    path = Area.objects.filter(code=code).values_list("path", flat=True).first()
    return None if path is None else paths.subtree(path)


def _search(q: str | None, *fields: str) -> Q:
    cond = Q()
    q = (q or "").strip()
    if q:
        cond = Q()
        for f in fields:
            cond |= Q(**{f"{f}__icontains": q})
    return cond


# --- areas ----------------------------------------------------------------------------------------
def areas_for(
    user,
    *,
    level: str | None = None,
    parent_code: str | None = None,
    q: str | None = None,
    active: bool | None = True,
) -> QuerySet[Area]:
    """Visible areas, optionally of one level, children of one parent, matching a name or code."""
    qs = visible_areas(user)
    if level:
        qs = qs.filter(level=level)
    if parent_code:
        qs = qs.filter(parent__code=parent_code)
    if active is not None:
        qs = qs.filter(is_active=active)
    # One level is listed in code order (grids are numbered within the community, not the block, so the
    # tree's path order would give 001, 004, 002 …); several levels in tree order.
    return qs.filter(_search(q, "name", "code", "external_code")).order_by("code" if level else "path")


def area_detail(user, area_code: str) -> Area:
    area = visible_areas(user).filter(code=area_code).first()
    if area is None:
        raise NotFound(_("No such area, or it is outside your area."))
    return area


def children(user, area_code: str) -> QuerySet[Area]:
    """The visible children of a visible area."""
    parent = area_detail(user, area_code)
    return visible_areas(user).filter(parent=parent).order_by("code")


def my_areas(user) -> list[Area]:
    """The areas of the user's own memberships and of the organisations they belong to."""
    from gridgov.core.principal import principal_for

    paths = {p for m in principal_for(user).memberships for p in (m.area_path, m.organisation_area_path) if p}
    return list(Area.objects.filter(path__in=paths).select_related("parent").order_by("path"))


def geojson_for(
    user, level: str, parent_code: str | None = None, *, active: bool | None = True
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the visible areas of one level (below one area, if given)."""
    qs = Area.objects.filter(_area_scope(user), level=level)
    if parent_code:
        under = _under(parent_code)
        qs = qs.filter(under) if under is not None else qs.none()
    if active is not None:
        qs = qs.filter(is_active=active)
    # code order: a community's grids 001, 002, 003 … whatever block they lie in (path order is by block)
    rows = qs.order_by("code").values_list("code", "name", "level", "households", "parent__code", "geometry")
    features = [
        {
            "type": "Feature",
            "id": code,
            "geometry": json.loads(geometry) if geometry else None,
            "properties": {
                "code": code,
                "name": name,
                "level": lvl,
                "households": households,
                "parent_code": parent,
            },
        }
        for code, name, lvl, households, parent, geometry in rows.iterator(chunk_size=500)
    ]
    return {"type": "FeatureCollection", "features": features}


# --- buildings and houses -------------------------------------------------------------------------
def visible_buildings(user) -> QuerySet[Building]:
    return Building.objects.filter(_area_scope(user, "grid__path")).select_related("grid")


def buildings_for(user, *, grid_code: str | None = None, q: str | None = None) -> QuerySet[Building]:
    qs = visible_buildings(user)
    if grid_code:
        qs = qs.filter(grid__code=grid_code)
    return qs.filter(_search(q, "code", "name", "address")).order_by("code")


def building_detail(user, building_code: str) -> Building:
    building = visible_buildings(user).filter(code=building_code).first()
    if building is None:
        raise NotFound(_("No such building, or it is outside your area."))
    return building


def houses_for(user, *, building_code: str | None = None, use: str | None = None) -> QuerySet[House]:
    qs = House.objects.filter(_area_scope(user, "building__grid__path")).select_related("building")
    if building_code:
        qs = qs.filter(building__code=building_code)
    if use:
        qs = qs.filter(use=use)
    return qs.order_by("building__code", "unit", "floor", "room")


def houses_of_building(user, building_code: str, *, use: str | None = None) -> QuerySet[House]:
    """The houses of one visible building (404 when the building is not visible)."""
    building = building_detail(user, building_code)
    qs = House.objects.filter(building=building).select_related("building")
    if use:
        qs = qs.filter(use=use)
    return qs.order_by("unit", "floor", "room")


# --- point → grid ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Located:
    grid: Area
    ancestors: dict[str, Area]  # level → area above the grid
    lng: float  # WGS-84
    lat: float
    input_lng: float
    input_lat: float
    input_crs: str


def locate_for(user, lng: float, lat: float, crs: str = geo.CRS_WGS84) -> Located:
    """The grid containing a point given in `crs`, if the user may see it; NotFound otherwise."""
    wgs_lng, wgs_lat = geo.to_wgs84(lng, lat, crs)
    grid_id = locator.locate_id(wgs_lng, wgs_lat)
    grid = None
    if grid_id is not None:
        grid = Area.objects.filter(pk=grid_id, level=Level.GRID).first()
    if grid is None or not scope_for(user).can_see_path(grid.path, include_jurisdiction=True):
        raise NotFound(_("No grid of yours contains this point."))
    codes = paths.ancestor_codes(grid.path)
    ancestors = {a.level: a for a in Area.objects.filter(code__in=codes)}
    return Located(
        grid=grid,
        ancestors=ancestors,
        lng=float(wgs_lng),
        lat=float(wgs_lat),
        input_lng=float(lng),
        input_lat=float(lat),
        input_crs=crs,
    )


# --- staffing: who serves an area (网格长、网格员、街长、楼栋长) and its population ----------------------
# Population figures come from the registry, which sits above territory: it registers a function
# path → {"residents": n, "households": n} in RegistryConfig.ready().
_population: Callable[[str], dict[str, int]] | None = None
STAFF_LIMIT = 1000


def register_population(fn: Callable[[str], dict[str, int]] | None) -> None:
    global _population
    _population = fn


@dataclass
class StaffMember:
    post: str  # community_staff, block_chief, grid_chief, grid_worker, building_head
    user: Any
    area: Area
    building: Building | None
    phone: str
    phone_revealed: bool
    backup_name: str = ""
    leave: Any = None  # the leave in effect now (its backup stands in)


@dataclass
class Staffing:
    area: Area
    residents: int
    households: int
    members: list[StaffMember]
    revealable: bool


def staff_of(user, area_code: str, *, reveal: bool = False, request=None) -> Staffing:
    """Who serves a visible area, by post, with phones masked by the kernel's rule (unmasked only with
    `reveal` where the reader's personal-data policy covers the area; each reveal is logged), whether
    each is on leave and who stands in; and the area's residents and households (the registry's counts).

    A grid: the block chief(s) of its block, its grid chief(s) and grid workers, its building heads with
    their buildings. A block: its block chiefs, the chiefs and workers of its grids. A community: its
    staff and the block chiefs, grid chiefs and workers below. Higher levels: the staff of the area.
    Territorial roles of the area and the system administrator read it; departments and partner units
    (who see the area tree through their jurisdiction) and residents get NotFound."""
    from gridgov.accounts.models import Backup, Membership, Post
    from gridgov.accounts.posts import active_leaves
    from gridgov.accounts.roles import Role
    from gridgov.core import pii
    from gridgov.core.principal import principal_for

    area = Area.objects.filter(code=area_code).first()
    # The area's own people: territorial roles of the area (not a department through its jurisdiction).
    if area is None or not scope_for(user).can_see_path(area.path):
        raise NotFound(_("No such area, or it is outside your area."))
    q = Q(area=area)
    if area.level == Level.GRID and area.parent_id:
        q |= Q(area_id=area.parent_id, role=Role.BLOCK_CHIEF)
    elif area.level in (Level.BLOCK, Level.COMMUNITY):
        q |= Q(area__path__startswith=area.path, role__in=(Role.BLOCK_CHIEF, Role.GRID_WORKER))
    roles: list[str] = [
        Role.COMMUNITY_STAFF,
        Role.SUBDISTRICT_STAFF,
        Role.LEADER,
        Role.BLOCK_CHIEF,
        Role.GRID_WORKER,
    ]
    if area.level == Level.GRID:
        roles.append(Role.BUILDING_HEAD)
    rows = list(
        Membership.objects.filter(q, role__in=roles, user__is_active=True)
        .select_related("user", "area", "building")
        .order_by("area__path", "role", "-post", "user__display_name", "user_id")[:STAFF_LIMIT]
    )
    user_ids = {m.user_id for m in rows}
    backups = dict(Backup.objects.filter(user_id__in=user_ids).values_list("user_id", "backup__display_name"))
    leaves = {x.user_id: x for x in active_leaves().filter(user_id__in=user_ids).select_related("backup")}
    policy = principal_for(user).pii
    revealable = policy.may("phone", area.path)
    shown: list[int] = []
    members = []
    for m in rows:
        post = Post.GRID_CHIEF.value if m.post == Post.GRID_CHIEF else m.role
        phone = m.user.phone
        plain = reveal and bool(phone) and policy.may("phone", m.area.path if m.area else area.path)
        if plain:
            shown.append(m.user_id)
        members.append(
            StaffMember(
                post=post,
                user=m.user,
                area=m.area or area,
                building=m.building,
                phone=phone if plain else pii.mask_phone(phone),
                phone_revealed=plain,
                backup_name=backups.get(m.user_id) or "",
                leave=leaves.get(m.user_id),
            )
        )
    if shown:
        pii.log_access(
            user, "view", object_type="staff", ids=sorted(set(shown)), fields=["phone"], request=request,
            detail={"area": area.code},
        )  # fmt: skip
    figures = _population(area.path) if _population is not None else {}
    return Staffing(
        area=area,
        residents=figures.get("residents", 0),
        households=figures.get("households", area.households),
        members=members,
        revealable=revealable and any(m.phone and not m.phone_revealed for m in members),
    )
