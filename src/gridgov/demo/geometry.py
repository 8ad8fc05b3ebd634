"""Deterministic polygon partitions for the demo district.

A parent polygon is split into children with a Voronoi diagram of seeded points (relaxed a few times
towards the cells' centroids so the pieces are compact), each cell intersected with the parent. The
coordinates are kept at full float precision: a child's vertices are the parent's vertices, Voronoi
vertices inside the parent, or points computed on the parent's edges, so children nest in their parent
and cover it without gaps or overlaps up to float rounding (~1e-15 degrees).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

# A hand-drawn outline of a Longhua-like district (lng, lat), WGS-84, clockwise from the south-west.
DISTRICT_OUTLINE: tuple[tuple[float, float], ...] = (
    (113.9950, 22.6120),
    (114.0200, 22.6030),
    (114.0480, 22.6060),
    (114.0660, 22.6180),
    (114.0790, 22.6340),
    (114.0980, 22.6410),
    (114.1120, 22.6620),
    (114.1180, 22.6900),
    (114.1100, 22.7160),
    (114.1160, 22.7420),
    (114.1040, 22.7680),
    (114.0800, 22.7850),
    (114.0520, 22.7810),
    (114.0300, 22.7720),
    (114.0080, 22.7570),
    (113.9920, 22.7350),
    (113.9840, 22.7060),
    (113.9880, 22.6760),
    (113.9820, 22.6480),
    (113.9860, 22.6280),
)


def district_outline() -> Polygon:
    return shapely.orient_polygons(Polygon(DISTRICT_OUTLINE))


def random_points_in(geom: BaseGeometry, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """n points strictly inside geom, by rejection sampling in its bounding box."""
    shapely.prepare(geom)
    min_x, min_y, max_x, max_y = geom.bounds
    found: list[tuple[float, float]] = []
    for _ in range(100):
        need = n - len(found)
        if need <= 0:
            break
        xs = rng.uniform(min_x, max_x, size=need * 4 + 8)
        ys = rng.uniform(min_y, max_y, size=need * 4 + 8)
        inside = shapely.contains_xy(geom, xs, ys)
        found.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    if len(found) < n:  # pragma: no cover - only for degenerate slivers
        p = geom.representative_point()
        found.extend([(p.x, p.y)] * (n - len(found)))
    return found[:n]


def points_near(
    geom: BaseGeometry, centre: tuple[float, float], sigma: float, n: int, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """n points strictly inside geom, normally distributed around centre (falls back to uniform)."""
    shapely.prepare(geom)
    found: list[tuple[float, float]] = []
    for _ in range(30):
        need = n - len(found)
        if need <= 0:
            break
        xs = rng.normal(centre[0], sigma, size=need * 3 + 4)
        ys = rng.normal(centre[1], sigma, size=need * 3 + 4)
        inside = shapely.contains_xy(geom, xs, ys)
        found.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    if len(found) < n:
        found.extend(random_points_in(geom, n - len(found), rng))
    return found[:n]


def _polygonal(geom: BaseGeometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty and p.area > 0]


def _cells(parent: BaseGeometry, points: Sequence[tuple[float, float]]) -> list[list[Polygon]]:
    min_x, min_y, max_x, max_y = parent.bounds
    span = max(max_x - min_x, max_y - min_y)
    envelope = shapely.box(min_x - span, min_y - span, max_x + span, max_y + span)
    diagram = shapely.voronoi_polygons(MultiPoint(list(points)), extend_to=envelope, ordered=True)
    cells = list(shapely.get_parts(diagram))
    if len(cells) != len(points):  # pragma: no cover - defensive
        raise ValueError("the Voronoi diagram does not have one cell per point")
    return [_polygonal(shapely.intersection(cell, parent)) for cell in cells]


def _merge_stray_parts(pieces: list[list[Polygon]]) -> list[BaseGeometry]:
    """Keep each child's largest part; give any other part to the sibling it shares most boundary with."""
    main: list[BaseGeometry] = []
    strays: list[tuple[int, Polygon]] = []
    for i, parts in enumerate(pieces):
        parts = sorted(parts, key=lambda p: p.area, reverse=True)
        main.append(parts[0])
        strays.extend((i, p) for p in parts[1:])
    for owner, part in strays:
        halo = part.buffer(1e-9)
        best, best_len = owner, -1.0
        for j, sibling in enumerate(main):
            if j == owner:
                continue
            shared = shapely.intersection(sibling.boundary, halo).length
            if shared > best_len:
                best, best_len = j, shared
        main[best] = shapely.union(main[best], part)
    return main


def partition(
    parent: BaseGeometry,
    n: int,
    rng: np.random.Generator,
    *,
    anchors: Sequence[tuple[float, float]] | None = None,
    relax: int = 3,
) -> list[BaseGeometry]:
    """Split parent into n children that cover it exactly; anchors (if given) seed the cells in order."""
    if n <= 1:
        return [parent]
    points = list(anchors) if anchors is not None else random_points_in(parent, n, rng)
    if anchors is None:
        shapely.prepare(parent)
        for _ in range(relax):
            moved = []
            for point, parts in zip(points, _cells(parent, points), strict=True):
                if not parts:
                    moved.append(point)
                    continue
                cell = shapely.union_all(parts)
                c = cell.centroid
                if not shapely.contains_xy(parent, c.x, c.y):
                    c = cell.representative_point()
                moved.append((c.x, c.y))
            points = moved
    pieces = _cells(parent, points)
    if any(not parts for parts in pieces):  # pragma: no cover - only if two points coincide
        raise ValueError("a partition cell is empty")
    return [shapely.orient_polygons(g) for g in _merge_stray_parts(pieces)]


def reading_order(geoms: Sequence[BaseGeometry], frame: BaseGeometry) -> list[int]:
    """Indexes of geoms ordered west→east within rows taken north→south across frame's bounding box."""
    if not geoms:
        return []
    rows = max(1, round(math.sqrt(len(geoms))))
    _, min_y, _, max_y = frame.bounds
    height = (max_y - min_y) / rows or 1.0
    keyed = []
    for i, g in enumerate(geoms):
        p = g.centroid if not isinstance(g, Point) else g
        row = min(rows - 1, max(0, int((max_y - p.y) / height)))
        keyed.append((row, p.x, -p.y, i))
    return [k[-1] for k in sorted(keyed)]


def points_reading_order(points: Sequence[tuple[float, float]], frame: BaseGeometry) -> list[int]:
    return reading_order([Point(x, y) for x, y in points], frame)


def to_geojson(geom: BaseGeometry) -> str:
    return json.dumps(mapping(geom), separators=(",", ":"))


def from_geojson(text: str) -> BaseGeometry:
    return shapely.geometry.shape(json.loads(text))
