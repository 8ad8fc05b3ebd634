"""Point → grid: which active grid contains a point, for one point or millions.

`GridIndex` is an immutable in-memory index of grid polygons, built in pure numpy:

- A uniform raster covers the bounding box of all grids (a few hundred thousand to about four
  million cells, more for more grids). Each cell holds the grid whose interior contains the whole
  cell, -1 when the cell touches no grid, or a reference to a short list of candidate grids when a
  grid boundary passes through (or within 1e-9 degrees of) the cell.
- Boundary cells are found by sampling every polygon edge at most a quarter cell apart and marking
  the sample's cell plus any neighbour the sample is within an eighth of a cell of: a superset of the
  cells the edge touches, with the polygon as the cell's candidate.
- Every other cell lies wholly inside or wholly outside each polygon, so its centre decides: a
  scanline pass through the cell centres (even-odd rule per polygon, all rings) counts the polygons
  holding each centre.
- A query is a numpy lookup of each point's cell; only points in boundary cells are tested exactly,
  with `shapely.contains_xy` on the prepared candidate polygons of that cell.

The 1e-9 degree margin is far larger than the floating-point error of mapping a point to its cell,
so a cell marked "inside grid g" or "outside everything" is right for every point that can land in
it: the answer always equals the exact point-in-polygon test (interior, as `within`). Where grids
overlap (bad data) the grid with the smaller index (ordered by path) wins.

`locate_many()` and `locate()` use the process-wide index of the active grids, built from the
database and rebuilt when the grid revision (`services.grids_changed()`) moves; the revision is
checked at most every `CHECK_INTERVAL` seconds. One thread builds under a lock while the others
keep using the previous index; the new index replaces it in a single assignment, so no reader
ever sees a half-built one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between checks of the grid revision
_EPS = 1e-9  # degrees: a boundary this close to a cell makes it a boundary cell (≈ 0.1 mm)
_OUTSIDE = -1


def _target_cells(n_polygons: int) -> int:
    """Finest raster size: more grids → finer cells, so few points land in boundary cells."""
    return int(min(4_194_304, max(262_144, n_polygons * 2048)))


@dataclass(frozen=True)
class _Raster:
    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int
    cells: np.ndarray  # (ny, nx) int32: grid index ≥ 0, -1 outside, ≤ -2 → candidate list -(v + 2)
    cand_offsets: np.ndarray  # (n_ambiguous + 1,) int64
    cand_polys: np.ndarray  # int32 polygon indices, grouped by ambiguous cell


class GridIndex:
    """An immutable point-in-polygon index over a fixed list of valid polygons (see the module
    docstring). The polygons are prepared in place; hand it geometries nothing else is using."""

    def __init__(self, ids: Sequence[int], polygons: Sequence[BaseGeometry], revision: int | None = None):
        started = time.perf_counter()
        self.revision = revision
        self.ids = np.asarray(ids, dtype=np.int64)
        self.polygons = np.array(list(polygons), dtype=object)
        if len(self.ids) != len(self.polygons):
            raise ValueError("ids and polygons differ in length")
        self._raster: _Raster | None = None
        if len(self.polygons) and not shapely.is_empty(self.polygons).all():
            shapely.prepare(self.polygons)
            self._raster = _build_raster(self.polygons)
            self._warm_up()
        self.build_seconds = time.perf_counter() - started

    def __len__(self) -> int:
        return len(self.ids)

    def _warm_up(self) -> None:
        # GEOS builds a prepared polygon's point-location index on first use; do it now, on this thread,
        # so concurrent queries afterwards only read.
        polygons = self.polygons[~shapely.is_empty(self.polygons)]
        pts = shapely.point_on_surface(polygons)
        shapely.contains_xy(polygons, shapely.get_x(pts), shapely.get_y(pts))

    @property
    def stats(self) -> dict:
        r = self._raster
        if r is None:
            return {"grids": 0, "cells": 0, "boundary_cells": 0, "build_s": self.build_seconds}
        return {
            "grids": len(self),
            "cells": int(r.nx * r.ny),
            "raster": (r.ny, r.nx),
            "cell_m": (r.dx * 111_320 * np.cos(np.radians(r.y0 + r.dy * r.ny / 2)), r.dy * 110_574),
            "boundary_cells": int(len(r.cand_offsets) - 1),
            "build_s": self.build_seconds,
        }

    def locate_indices(self, lngs, lats) -> np.ndarray:
        """Index (into this index's polygons) of the polygon containing each point, -1 for none."""
        x = np.asarray(lngs, dtype=np.float64).ravel()
        y = np.asarray(lats, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError("lngs and lats differ in length")
        r = self._raster
        if r is None or not len(x):
            return np.full(x.shape, _OUTSIDE, dtype=np.int64)
        fx = x - r.x0
        fx /= r.dx
        fy = y - r.y0
        fy /= r.dy
        inside = (fx >= 0) & (fx < r.nx) & (fy >= 0) & (fy < r.ny)  # False for NaN
        if inside.all():
            sel = None
            cell = fy.astype(np.intp) * r.nx + fx.astype(np.intp)
        else:
            sel = np.flatnonzero(inside)
            cell = fy[sel].astype(np.intp) * r.nx + fx[sel].astype(np.intp)
        values = r.cells.ravel()[cell].astype(np.int64)
        amb = np.flatnonzero(values < _OUTSIDE)
        if len(amb):
            pts = amb if sel is None else sel[amb]
            values[amb] = self._resolve(x[pts], y[pts], -(values[amb] + 2))
        if sel is None:
            return values
        out = np.full(x.shape, _OUTSIDE, dtype=np.int64)
        out[sel] = values
        return out

    def _resolve(self, xs: np.ndarray, ys: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Exact test of points in boundary cells against their cell's candidate polygons."""
        r = cast(_Raster, self._raster)
        starts = r.cand_offsets[cells]
        counts = r.cand_offsets[cells + 1] - starts
        total = int(counts.sum())
        # One (point, candidate) pair per row, points in order, each point's candidates ascending.
        point_of_pair = np.repeat(np.arange(len(xs)), counts)
        within_group = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        poly_of_pair = r.cand_polys[np.repeat(starts, counts) + within_group]
        hit = shapely.contains_xy(self.polygons[poly_of_pair], xs[point_of_pair], ys[point_of_pair])
        hit_point = point_of_pair[hit]
        hit_poly = poly_of_pair[hit]
        first = np.r_[True, hit_point[1:] != hit_point[:-1]] if len(hit_point) else np.zeros(0, dtype=bool)
        found = np.full(len(xs), _OUTSIDE, dtype=np.int64)
        found[hit_point[first]] = hit_poly[first]  # the smallest matching polygon index
        return found

    def locate_many(self, lngs, lats) -> np.ndarray:
        """Id of the grid containing each WGS-84 point, -1 for none."""
        idx = self.locate_indices(lngs, lats)
        return np.where(idx >= 0, self.ids[np.maximum(idx, 0)] if len(self.ids) else _OUTSIDE, _OUTSIDE)


def _edges(polygons: np.ndarray):
    """Every edge of every ring (exterior and holes) of every polygon: x1, y1, x2, y2, polygon index."""
    parts, part_poly = shapely.get_parts(polygons, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_poly = part_poly[ring_part]
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    x1 = coords[:-1, 0][same]
    y1 = coords[:-1, 1][same]
    x2 = coords[1:, 0][same]
    y2 = coords[1:, 1][same]
    return x1, y1, x2, y2, ring_poly[coord_ring[:-1][same]].astype(np.int64)


def _boundary_pairs(u1, v1, u2, v2, poly, nx: int, ny: int, n_polys: int) -> np.ndarray:
    """(cell, polygon) keys, cell * n + polygon, for every cell whose box, enlarged by _EPS, a polygon's
    boundary may touch (a superset of those it does touch). Coordinates are in cell units.

    Each edge is sampled at most 1/4 cell apart, so every point of it is within 1/8 cell of a sample;
    a sample marks its own cell and, when it lies within 1/8 cell (plus the margin) of a cell side,
    the neighbours across that side. That marks every cell the edge comes within the margin of."""
    length = np.maximum(np.abs(u2 - u1), np.abs(v2 - v1))
    n = (np.floor(length / 0.25) + 2).astype(np.int64)
    edge = np.repeat(np.arange(len(n)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    t = (np.arange(int(n.sum())) - first) / (n[edge] - 1)
    u = u1[edge] + t * (u2[edge] - u1[edge])
    v = v1[edge] + t * (v2[edge] - v1[edge])
    p = poly[edge]
    iu = np.floor(u).astype(np.int64)
    iv = np.floor(v).astype(np.int64)
    fu = u - iu
    fv = v - iv
    delta = 0.125 + 1e-4  # the margin is _EPS in cell units, far below 1e-4
    nu = np.where(fu < delta, iu - 1, np.where(fu > 1 - delta, iu + 1, iu))
    nv = np.where(fv < delta, iv - 1, np.where(fv > 1 - delta, iv + 1, iv))
    side_u = nu != iu
    side_v = nv != iv
    corner = side_u & side_v
    cu = np.concatenate((iu, nu[side_u], iu[side_v], nu[corner]))
    cv = np.concatenate((iv, iv[side_u], nv[side_v], nv[corner]))
    cp = np.concatenate((p, p[side_u], p[side_v], p[corner]))
    ok = (cu >= 0) & (cu < nx) & (cv >= 0) & (cv < ny)
    return _unique((cv[ok] * nx + cu[ok]) * n_polys + cp[ok])


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values (a sort beats numpy's hash-based unique on these int64 keys)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _scanline_cover(u1, v1, u2, v2, poly, nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cell centre: how many polygons contain it, and the sum of their indices (even-odd rule
    per polygon over all its rings, scanning each raster row through the cell centres)."""
    vmin = np.minimum(v1, v2)
    vmax = np.maximum(v1, v2)
    row_first = np.ceil(vmin - 0.5).astype(np.int64)
    row_stop = np.ceil(vmax - 0.5).astype(np.int64)  # rows r with vmin <= r + 0.5 < vmax
    n = np.maximum(row_stop - row_first, 0)
    edge = np.repeat(np.arange(len(n)), n)
    row = row_first[edge] + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    e_u1, e_v1, e_u2, e_v2 = u1[edge], v1[edge], u2[edge], v2[edge]
    cross = e_u1 + (row + 0.5 - e_v1) * (e_u2 - e_u1) / (e_v2 - e_v1)
    p = poly[edge]
    order = np.lexsort((cross, row, p))
    cross, row, p = cross[order], row[order], p[order]
    # Within each (polygon, row) the crossings pair up: [1st, 2nd), [3rd, 4th), …
    group_start = np.r_[True, (p[1:] != p[:-1]) | (row[1:] != row[:-1])]
    starts = np.flatnonzero(group_start)
    rank = np.arange(len(p)) - np.repeat(starts, np.diff(np.r_[starts, len(p)]))
    opening = np.flatnonzero(rank % 2 == 0)
    opening = opening[opening + 1 < len(p)]
    closing = opening + 1
    col_a = np.clip(np.ceil(cross[opening] - 0.5), 0, nx).astype(np.int64)
    col_b = np.clip(np.ceil(cross[closing] - 0.5), 0, nx).astype(np.int64)
    span_row = row[opening]
    span_poly = p[opening]
    keep = (col_b > col_a) & (span_row >= 0) & (span_row < ny)
    col_a, col_b, span_row, span_poly = col_a[keep], col_b[keep], span_row[keep], span_poly[keep]
    width = nx + 1
    count = np.zeros(ny * width, dtype=np.int32)
    idsum = np.zeros(ny * width, dtype=np.int64)
    np.add.at(count, span_row * width + col_a, 1)
    np.add.at(count, span_row * width + col_b, -1)
    np.add.at(idsum, span_row * width + col_a, span_poly)
    np.add.at(idsum, span_row * width + col_b, -span_poly)
    count = np.cumsum(count.reshape(ny, width), axis=1)[:, :nx]
    idsum = np.cumsum(idsum.reshape(ny, width), axis=1)[:, :nx]
    return count.ravel(), idsum.ravel()


def _build_raster(polygons: np.ndarray) -> _Raster:
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    w = max(maxx - minx, 1e-6)
    h = max(maxy - miny, 1e-6)
    cell = float(np.sqrt(w * h / _target_cells(len(polygons))))
    # Two spare cells on every side: points near the bbox never round out of the raster, and the
    # boundary marks of edges on the bbox have neighbours to go to.
    nx = int(np.ceil(w / cell)) + 4
    ny = int(np.ceil(h / cell)) + 4
    x0 = minx - 2 * cell
    y0 = miny - 2 * cell
    dx = dy = cell
    n_polys = len(polygons)

    x1, y1, x2, y2, poly = _edges(polygons)
    u1, u2 = (x1 - x0) / dx, (x2 - x0) / dx
    v1, v2 = (y1 - y0) / dy, (y2 - y0) / dy

    count, idsum = _scanline_cover(u1, v1, u2, v2, poly, nx, ny)
    cells = np.where(count == 1, idsum, _OUTSIDE).astype(np.int32)

    keys: list[np.ndarray] = [_boundary_pairs(u1, v1, u2, v2, poly, nx, ny, n_polys)]
    boundary = _unique(keys[0] // n_polys)
    # A polygon may contain a boundary cell without its own boundary touching it only where polygons
    # overlap; list the polygon holding the centre as a candidate too.
    single = boundary[count[boundary] == 1]
    keys.append(single * n_polys + idsum[single])
    overlap = np.flatnonzero(count >= 2)
    if len(overlap):
        # Overlapping polygons (invalid data): every polygon whose bbox holds the cell centre.
        log.warning("grid polygons overlap in %d locator cells", len(overlap))
        cx = x0 + (overlap % nx + 0.5) * dx
        cy = y0 + (overlap // nx + 0.5) * dy
        half = max(dx, dy)
        probe = shapely.box(cx - half, cy - half, cx + half, cy + half)
        b, pp = shapely.STRtree(polygons).query(probe)
        keys.append(overlap[b] * n_polys + pp)
    pairs = _unique(np.concatenate(keys))
    pair_cell = pairs // n_polys
    pair_poly = (pairs % n_polys).astype(np.int32)
    first = np.flatnonzero(np.r_[True, pair_cell[1:] != pair_cell[:-1]])
    amb_cells = pair_cell[first]
    cand_counts = np.diff(np.r_[first, len(pair_cell)])
    cells[amb_cells] = -(np.arange(len(amb_cells)) + 2)
    return _Raster(
        x0=float(x0),
        y0=float(y0),
        dx=float(dx),
        dy=float(dy),
        nx=nx,
        ny=ny,
        cells=cells.reshape(ny, nx),
        cand_offsets=np.concatenate(([0], np.cumsum(cand_counts))).astype(np.int64),
        cand_polys=pair_poly,
    )


# --- the process-wide index of the active grids ---------------------------------------------------
def load_active_grids() -> tuple[list[int], list[BaseGeometry]]:
    """(ids, polygons) of the active grids with a usable geometry, ordered by path."""
    from gridgov.territory import geo
    from gridgov.territory.models import Area, Level

    ids: list[int] = []
    polygons: list[BaseGeometry] = []
    rows = (
        Area.objects.filter(level=Level.GRID, is_active=True)
        .exclude(geometry="")
        .order_by("path")
        .values_list("id", "code", "geometry")
    )
    for pk, code, text in rows.iterator(chunk_size=1000):
        try:
            geom = geo.read_geojson(text)  # our own copy: the index prepares it
        except geo.GeometryError:
            log.warning("grid %s has unreadable geometry; it is left out of the locator", code)
            continue
        if geom.geom_type not in geo.POLYGONAL_TYPES:
            log.warning("grid %s geometry is a %s, not a polygon; left out", code, geom.geom_type)
            continue
        if not geom.is_valid:
            log.warning("grid %s geometry is invalid; it is located with its repaired shape", code)
            geom = geo.polygonal_part(shapely.make_valid(geom))
            if geom is None:
                continue
        polygons.append(geom)
        ids.append(pk)
    return ids, polygons


class Locator:
    """Holds the current GridIndex of this process and keeps it in step with the grid revision."""

    def __init__(self, check_interval: float = CHECK_INTERVAL):
        self.check_interval = check_interval
        self._index: GridIndex | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._index = None
            self._checked_at = float("-inf")

    def index(self) -> GridIndex:
        """The current index, rebuilt first if the grids changed since it was built."""
        index = self._index
        if index is not None and time.monotonic() - self._checked_at < self.check_interval:
            return index
        if index is None:
            self._lock.acquire()
        elif not self._lock.acquire(blocking=False):
            return index  # another thread is checking or rebuilding: use the current index meanwhile
        try:
            index = self._index
            if index is not None and time.monotonic() - self._checked_at < self.check_interval:
                return index  # another thread checked while we waited
            from gridgov.core.models import Revision
            from gridgov.territory.services import GRID_REVISION

            # Read the revision before the grids: a change in between leaves the index labelled older
            # than what it holds, which only costs one extra rebuild.
            revision = Revision.current(GRID_REVISION)
            if index is None or index.revision != revision:
                ids, polygons = load_active_grids()
                index = GridIndex(ids, polygons, revision=revision)
                log.info(
                    "grid locator built: %d grids in %.2f s (revision %s)",
                    len(index),
                    index.build_seconds,
                    revision,
                )
                self._index = index
            self._checked_at = time.monotonic()
            return index
        finally:
            self._lock.release()


_locator = Locator()


def get_locator() -> Locator:
    return _locator


def locate_many(lngs, lats) -> np.ndarray:
    """Ids of the active grids containing each WGS-84 point (arrays), -1 where none does."""
    return _locator.index().locate_many(lngs, lats)


def locate_id(lng: float, lat: float, crs: str = "wgs84") -> int | None:
    """Id of the active grid containing one point given in `crs`, or None."""
    from gridgov.territory import geo

    x, y = geo.to_wgs84(lng, lat, crs)
    found = int(locate_many(np.array([x]), np.array([y]))[0])
    return None if found < 0 else found


def locate(lng: float, lat: float, crs: str = "wgs84"):
    """The active grid (an Area) containing one point given in `crs`, or None."""
    from gridgov.territory.models import Area

    pk = locate_id(lng, lat, crs)
    if pk is None:
        return None
    return Area.objects.filter(pk=pk).first()
