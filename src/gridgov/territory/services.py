"""Every write on the territory: areas, cached household counts, and the grid revision."""

from __future__ import annotations

import json
from typing import Any, cast

import shapely
from django.db import transaction
from django.db.models import IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEventType
from gridgov.core.errors import NotFound, ValidationFailed
from gridgov.core.models import Revision
from gridgov.core.principal import require
from gridgov.territory import codes, geo, paths
from gridgov.territory.models import LEVEL_DEPTH, LEVEL_ORDER, Area, Building, House, Level

GRID_REVISION = "territory.grids"

UNSET: Any = object()


def grids_changed() -> None:
    """Tell every process that grid geometry changed, so point → grid locators rebuild their index."""
    Revision.bump(GRID_REVISION)


# --- validation helpers ---------------------------------------------------------------------------
def _invalid(errors: list[dict[str, str]]) -> ValidationFailed:
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ValidationFailed(_("Please correct: %(fields)s") % {"fields": fields}, errors=errors)


def _text_errors(**values: str | None) -> list[dict[str, str]]:
    """Control characters (NUL above all: PostgreSQL refuses it) are not allowed in names and codes."""
    return [
        {"field": field, "message": _("The text contains characters that are not allowed.")}
        for field, value in values.items()
        if value and any(ord(ch) < 32 for ch in value)
    ]


def clean_geometry(
    value: Any, *, field: str = "geometry", extent: tuple[float, float, float, float, str] | None = None
) -> tuple[str, tuple[float, float, float, float] | None]:
    """A GeoJSON Polygon/MultiPolygon (object or text) in WGS-84 → (compact text, bbox).

    None or "" clears the geometry ({} is not a geometry and is refused). With `extent` (min_lng, min_lat,
    max_lng, max_lat, label) the geometry must lie within or near it (EXTENT_MARGIN). Raises
    ValidationFailed naming `field` otherwise."""
    if value is None or value == "":
        return "", None
    text = value if isinstance(value, str) else json.dumps(value)

    def fail(message: str):
        return _invalid([{"field": field, "message": message}])

    try:
        geom = geo.parse_geojson(text)
    except geo.GeometryError:
        raise fail(_("Enter a GeoJSON geometry.")) from None
    if geom.geom_type not in geo.POLYGONAL_TYPES:
        raise fail(_("The geometry must be a Polygon or a MultiPolygon."))
    if geom.is_empty:
        raise fail(_("The geometry is empty."))
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise fail(_("The polygon is not valid (%(reason)s).") % {"reason": reason})
    min_lng, min_lat, max_lng, max_lat = cast(tuple[float, float, float, float], geo.bbox_of(geom))
    if min_lng < -180 or max_lng > 180 or min_lat < -90 or max_lat > 90:
        raise fail(_("Coordinates must be WGS-84 longitude and latitude."))
    if geom.area <= 0:
        raise fail(_("The polygon has no area."))
    if extent is not None:
        e_min_lng, e_min_lat, e_max_lng, e_max_lat, label = extent
        margin = max(
            EXTENT_MARGIN_DEGREES, EXTENT_MARGIN_SHARE * max(e_max_lng - e_min_lng, e_max_lat - e_min_lat)
        )
        if (
            min_lng < e_min_lng - margin
            or max_lng > e_max_lng + margin
            or min_lat < e_min_lat - margin
            or max_lat > e_max_lat + margin
        ):
            raise fail(
                _("The geometry lies outside %(area)s; check the coordinates (WGS-84 longitude, latitude).")
                % {"area": label}
            )
    return geo.to_geojson(geom), (min_lng, min_lat, max_lng, max_lat)


# A geometry may reach this far beyond the extent of the area it belongs to (drawing slack, a grid on the
# boundary road): 0.02° (about 2 km) or a fifth of that area's size, whichever is larger.
EXTENT_MARGIN_DEGREES = 0.02
EXTENT_MARGIN_SHARE = 0.2


def _box(area: Area) -> tuple[float, float, float, float, str]:
    """An area's bounding box (its four columns are written together) and how a message names it."""
    box = cast(tuple[float, float, float, float], (area.min_lng, area.min_lat, area.max_lng, area.max_lat))
    return (*box, f"{area.name}({area.code})")


def reference_extent(parent: Area | None) -> tuple[float, float, float, float, str] | None:
    """Where an area under `parent` must lie: the extent of its nearest ancestor that has a geometry, else
    the configured district's (GRIDGOV_DISTRICT_CODE); None for a district, or when nothing is drawn."""
    if parent is None:
        return None
    node: Area | None = parent
    while node is not None:
        if node.min_lng is not None:
            return _box(node)
        node = node.parent
    from django.conf import settings

    district = (
        Area.objects.filter(code=settings.GRIDGOV_DISTRICT_CODE, min_lng__isnull=False).only(
            "code", "name", "min_lng", "min_lat", "max_lng", "max_lat"
        )
    ).first()
    return None if district is None else _box(district)


def _set_geometry(area: Area, text: str, bbox) -> None:
    area.geometry = text
    if bbox is None:
        area.min_lng = area.min_lat = area.max_lng = area.max_lat = None
    else:
        area.min_lng, area.min_lat, area.max_lng, area.max_lat = bbox


def _code_prefix(level: str, parent: Area | None) -> str | None:
    """The code a new area's code must start with: its parent's, or for a grid its community's."""
    if parent is None:
        return None
    if level == Level.GRID:
        return cast(Area, parent.parent).code if parent.parent_id else parent.code
    return parent.code


# --- areas ----------------------------------------------------------------------------------------
def create_area(
    *,
    actor,
    level: str,
    code: str,
    name: str,
    parent_code: str | None = None,
    geometry: Any = None,
    external_code: str = "",
    is_active: bool = True,
    request=None,
) -> Area:
    """Add an area under its parent (district → subdistrict → community → block → grid). Admins only."""
    require(actor, "territory.area.create", ("area", code), request=request)
    return _create_area(
        actor=actor,
        level=level,
        code=code,
        name=name,
        parent_code=parent_code,
        geometry=geometry,
        external_code=external_code,
        is_active=is_active,
        request=request,
    )


@transaction.atomic
def _create_area(
    *, actor, level, code, name, parent_code, geometry, external_code, is_active, request
) -> Area:
    errors: list[dict[str, str]] = []
    code = (code or "").strip()
    name = (name or "").strip()
    external_code = (external_code or "").strip()
    if level not in LEVEL_DEPTH:
        errors.append({"field": "level", "message": _("Choose one of the allowed values")})
        raise _invalid(errors)
    parent = None
    depth = LEVEL_DEPTH[level]
    if depth == 0:
        if parent_code:
            errors.append({"field": "parent_code", "message": _("A district has no parent area.")})
    elif not parent_code:
        errors.append({"field": "parent_code", "message": _("This field is required")})
    elif _text_errors(parent_code=parent_code):
        errors += _text_errors(parent_code=parent_code)
    else:
        parent = Area.objects.select_related("parent").filter(code=parent_code).first()
        expected = LEVEL_ORDER[depth - 1]
        if parent is None:
            errors.append({"field": "parent_code", "message": _("There is no area with this code.")})
        elif parent.level != expected:
            errors.append(
                {
                    "field": "parent_code",
                    "message": _("A %(level)s belongs under a %(parent)s.")
                    % {"level": Level(level).label, "parent": Level(expected).label},
                }
            )
    if not name:
        errors.append({"field": "name", "message": _("This field is required")})
    errors += _text_errors(name=name, external_code=external_code)
    if not any(e["field"] == "parent_code" for e in errors):
        problem = codes.code_error(level, code, _code_prefix(level, parent))
        if problem:
            errors.append({"field": "code", "message": problem})
        elif Area.objects.filter(code=code).exists():
            errors.append({"field": "code", "message": _("An area with this code already exists.")})
    text, bbox = "", None
    try:
        text, bbox = clean_geometry(geometry, extent=reference_extent(parent))
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise _invalid(errors)

    area = Area(
        parent=parent,
        level=level,
        code=code,
        name=name,
        external_code=external_code,
        is_active=is_active,
    )
    _set_geometry(area, text, bbox)
    area.save()
    if level == Level.GRID and text and is_active:
        grids_changed()
    record_audit(
        AuditEventType.DATA_CHANGE,
        user=actor,
        request=request,
        object_type="area",
        object_id=area.code,
        detail={"action": "create", "level": level, "parent": parent_code or ""},
    )
    return area


def update_area(
    *,
    actor,
    area_code: str,
    name: str = UNSET,
    geometry: Any = UNSET,
    external_code: str = UNSET,
    is_active: bool = UNSET,
    request=None,
) -> Area:
    """Change an area's name, geometry, external code or active flag. Admins only.

    Codes, levels and parents do not change here: the code is the area's identity and its path."""
    require(actor, "territory.area.update", ("area", area_code), request=request)
    return _update_area(
        actor=actor,
        area_code=area_code,
        name=name,
        geometry=geometry,
        external_code=external_code,
        is_active=is_active,
        request=request,
    )


@transaction.atomic
def _update_area(*, actor, area_code, name, geometry, external_code, is_active, request) -> Area:
    area = None
    if not _text_errors(area_code=area_code):
        area = Area.objects.select_for_update().filter(code=area_code).first()
    if area is None:
        raise NotFound()
    errors: list[dict[str, str]] = []
    changed: list[str] = []
    locator_relevant = False
    if name is not UNSET:
        name = (name or "").strip()
        if not name:
            errors.append({"field": "name", "message": _("This field is required")})
        elif _text_errors(name=name):
            errors += _text_errors(name=name)
        elif name != area.name:
            area.name = name
            changed.append("name")
    if geometry is not UNSET:
        try:
            text, bbox = clean_geometry(geometry, extent=reference_extent(area.parent))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        else:
            if text != area.geometry:
                _set_geometry(area, text, bbox)
                changed += ["geometry", "min_lng", "min_lat", "max_lng", "max_lat"]
                locator_relevant = True
    if external_code is not UNSET:
        external_code = (external_code or "").strip()
        errors += _text_errors(external_code=external_code)
        if external_code != area.external_code:
            area.external_code = external_code
            changed.append("external_code")
    if is_active is not UNSET and is_active is not None and bool(is_active) != area.is_active:
        area.is_active = bool(is_active)
        changed.append("is_active")
        locator_relevant = True
    if errors:
        raise _invalid(errors)
    if changed:
        area.save(update_fields=[*changed, "updated_at"])
        if area.level == Level.GRID and locator_relevant:
            grids_changed()
        record_audit(
            AuditEventType.DATA_CHANGE,
            user=actor,
            request=request,
            object_type="area",
            object_id=area.code,
            detail={"action": "update", "fields": [f for f in changed if not f.startswith(("min_", "max_"))]},
        )
    return area


# --- cached household counts ----------------------------------------------------------------------
def _sum_of(queryset, group_field: str, sum_field: str = "households") -> Subquery:
    return Subquery(
        queryset.filter(**{group_field: OuterRef("pk")})
        .order_by()
        .values(group_field)
        .annotate(total=Sum(sum_field))
        .values("total")[:1],
        output_field=IntegerField(),
    )


def _zero_or(expr):
    return Coalesce(expr, Value(0), output_field=IntegerField())


@transaction.atomic
def recount_households(area: Area | None = None) -> None:
    """Recompute the cached household counts bottom-up from the houses: buildings, then grids, blocks,
    communities, subdistricts, districts. One UPDATE per level over the whole tree, or over `area`'s
    subtree and then its ancestors."""
    buildings = Building.objects.all()
    areas = Area.objects.all()
    if area is not None:
        buildings = buildings.filter(grid__path__startswith=area.path)
        areas = areas.filter(path__startswith=area.path)
    top = area.depth if area is not None else 0
    buildings.update(households=_zero_or(_sum_of(House.objects.all(), "building")))
    areas.filter(level=Level.GRID).update(households=_zero_or(_sum_of(Building.objects.all(), "grid")))
    for level in reversed(LEVEL_ORDER[top:-1]):
        areas.filter(level=level).update(households=_zero_or(_sum_of(Area.objects.all(), "parent")))
    if area is not None:
        ancestor_codes = paths.ancestor_codes(area.path)
        for ancestor in Area.objects.filter(code__in=ancestor_codes).order_by("-depth"):
            Area.objects.filter(pk=ancestor.pk).update(
                households=_zero_or(_sum_of(Area.objects.all(), "parent"))
            )
