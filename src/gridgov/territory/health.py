"""Grid health (网格体检): every visible grid against the household bounds (300–500), every community
against its target (≈3000 ± 20 %), with counts per subdistrict. Bounds are settings:
`GRIDGOV_GRID_HOUSEHOLDS`, `GRIDGOV_COMMUNITY_HOUSEHOLDS`, `GRIDGOV_COMMUNITY_TOLERANCE`."""

from __future__ import annotations

import json
from collections import defaultdict

from django.conf import settings

from gridgov.territory.models import Area, Level
from gridgov.territory.selectors import _under, visible_areas

BELOW, WITHIN, ABOVE = "below", "within", "above"


def grid_bounds() -> tuple[int, int]:
    lo, hi = settings.GRIDGOV_GRID_HOUSEHOLDS
    return int(lo), int(hi)


def community_bounds() -> tuple[int, int]:
    target = settings.GRIDGOV_COMMUNITY_HOUSEHOLDS
    tolerance = settings.GRIDGOV_COMMUNITY_TOLERANCE
    return round(target * (1 - tolerance)), round(target * (1 + tolerance))


def status_of(households: int, bounds: tuple[int, int]) -> str:
    lo, hi = bounds
    return BELOW if households < lo else ABOVE if households > hi else WITHIN


def _rows(areas, bounds) -> list[dict]:
    return [
        {
            "code": a.code,
            "name": a.name,
            "households": a.households,
            "status": status_of(a.households, bounds),
            "parent_code": a.parent.code if a.parent_id else None,
        }
        for a in areas
    ]


def health_for(user, *, area_code: str | None = None, only_out: bool = True) -> dict:
    """Grids and communities the user may see (below `area_code` when given), their status against the
    bounds, and counts per subdistrict. With `only_out` the lists hold only those out of bounds."""
    qs = visible_areas(user).filter(is_active=True)
    if area_code:
        under = _under(area_code)
        qs = qs.filter(under) if under is not None else qs.none()
    grid_b, community_b = grid_bounds(), community_bounds()
    grids = _rows(qs.filter(level=Level.GRID).order_by("path"), grid_b)
    communities = _rows(qs.filter(level=Level.COMMUNITY).order_by("path"), community_b)
    names = dict(Area.objects.filter(level=Level.SUBDISTRICT).values_list("code", "name"))
    summary: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for kind, rows in (("grids", grids), ("communities", communities)):
        for row in rows:
            sub = row["code"][:9]
            summary[sub][kind] += 1
            summary[sub][f"{kind}_{row['status']}"] += 1
    by_subdistrict = [
        {
            "code": code,
            "name": names.get(code, ""),
            **{
                f"{kind}{suffix}": counts.get(f"{kind}{suffix}", 0)
                for kind in ("grids", "communities")
                for suffix in ("", "_below", "_within", "_above")
            },
        }
        for code, counts in sorted(summary.items())
    ]
    if only_out:
        grids = [r for r in grids if r["status"] != WITHIN]
        communities = [r for r in communities if r["status"] != WITHIN]
    return {
        "grid_bounds": list(grid_b),
        "community_bounds": list(community_b),
        "by_subdistrict": by_subdistrict,
        "grids": grids,
        "communities": communities,
    }


def health_geojson(user, *, area_code: str | None = None, only_out: bool = False) -> dict:
    """The visible grids as a FeatureCollection with `households` and `status` (a map layer)."""
    qs = visible_areas(user).filter(is_active=True, level=Level.GRID).exclude(geometry="")
    if area_code:
        under = _under(area_code)
        qs = qs.filter(under) if under is not None else qs.none()
    bounds = grid_bounds()
    features = []
    for a in qs.order_by("path"):
        status = status_of(a.households, bounds)
        if only_out and status == WITHIN:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(a.geometry),
                "properties": {"code": a.code, "name": a.name, "households": a.households, "status": status},
            }
        )
    return {"type": "FeatureCollection", "features": features}
