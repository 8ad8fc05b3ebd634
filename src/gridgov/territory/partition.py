"""Grid re-division (网格重划): split communities or blocks into contiguous, compact grids of lo–hi households.

Pure algorithm, no database. The caller passes arrays (one entry per building) in a local metric plane
(`LocalPlane` projects WGS-84 lng/lat to metres and back) and gets a `Redivision`: a grid number per
building, the grid polygons, households per grid, the buildings too large for any grid, the groups that
cannot be split within bounds (with the reason) and the old grid codes that carry over.

How (docs/grid-engine.md has the long version):

1. **Cells and graph.** Every building gets its Voronoi cell inside its group polygon (the cells of a group
   tile it exactly). Contiguity is the Delaunay graph of the group's buildings without edges longer than
   `max_edge` metres, plus the group's Euclidean minimum spanning tree so the distance rule never cuts a
   group in pieces (`contiguity_graph`). Edges never join two groups.
2. **Oversize buildings** (more than `hi` households) become grids of their own and are reported.
3. **Grid count.** Per connected part of a group (the whole group unless oversize buildings or the graph
   cut it): k grids with k·lo ≤ H ≤ k·hi, the average H/k nearest the middle of the bounds; the second
   best k too when k is small or the first result has a poor grid (the better result is kept). No such k →
   reported (too few households, or a total in a gap such as 501–599 for 300–500).
4. **Recursive bisection.** A set is cut in a side of k//2 grids and one of k − k//2 where both sides are
   connected and each side's households fit its grids (k_i·lo ≤ H_i ≤ k_i·hi), choosing the cut with the
   shortest shared Voronoi boundary and the most even average grid size. Cuts come from straight sweeps in
   8 directions, region growing along them, region growing from every building (small sets) and, for
   sets of at most 15 buildings, every subset. A set no cut works for is split exactly on a spanning tree
   (dynamic programme over bitsets of reachable households, `_tree_split`); only if that fails too does
   the parent try its next cut.
5. **Local search.** Buildings on a grid boundary move to a neighbouring grid when the move keeps both grids
   within bounds and connected and raises Σ log(Polsby–Popper) — computed exactly and incrementally from
   the cells (area and perimeter of a union of cells = sums over its cells, minus twice the shared edges).
6. **Recombination.** A grid still below PP 0.6 is merged with each neighbouring grid in turn and the pair
   cut again at the cut (within bounds, both sides connected) that maximises the pair's summed log PP,
   evaluated exactly for every cut of every growth order at once; then the local search again.
7. **No split?** A part is first checked for a proof that no split exists (a building through which more
   than hi households can only be reached in pieces below lo, `_no_split_proof`); a proved part skips
   the search. A group left with no split is solved again with longer links between buildings whose
   cells touch, step by step, and reported in `relaxed` (or, with relax=False, in `infeasible`).
8. **Codes.** A new grid keeps an old grid's code when that old grid held lo–hi households and the two
   share more than half of each other's households (`keep_share`), so a code goes to at most one new grid.

Deterministic: no randomness at all; ties are broken by input order.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial import Delaunay
from shapely.geometry.base import BaseGeometry

__all__ = [
    "HI",
    "LO",
    "MAX_EDGE_M",
    "Infeasible",
    "LocalPlane",
    "Oversize",
    "Redivision",
    "Relaxed",
    "building_cells",
    "contiguity_graph",
    "grid_count",
    "grid_counts",
    "grid_polygons",
    "polsby_popper",
    "redivide",
]

LO, HI = 300, 500  # households per grid, inclusive
MAX_EDGE_M = 120.0  # buildings farther apart than this are not adjacent (unless the spanning tree needs it)
EARTH_RADIUS_M = 6_371_008.8
_ANGLES = 8  # sweep directions tried at every bisection
_BALANCE = 4.0  # weight of the balance term in a cut's score (against cut length / √area)
_TRIES = 6  # cuts tried per bisection before falling back to a spanning-tree split
_EXHAUSTIVE = 15  # sets of at most this many buildings are cut by trying every subset …
_EXHAUSTIVE_CHECKS = 4000  # … checking the connectivity of at most this many, best first
_RADIAL = 80  # sets of at most this many buildings also try regions grown from every building
_MOVES = 30  # local search: at most this many moves per building
_RECOMBINE_BELOW = 0.6  # grids less compact than this are merged with a neighbour and cut again …
_ROUNDS = 2  # … in up to this many rounds (each followed by the local search)
_K_TRIES = 2  # grid counts tried per part of a group (the best result is kept) …
_SMALL_K = 6  # … always when k is at most this, else only when the first result has a grid …
_GOOD_PP = 0.45  # … below this Polsby–Popper value
_DUPLICATE_RADIUS_M = 0.5  # buildings at the same point are spread on a circle this wide
_RELAX_STEP = 1.25  # a group with no split within bounds is tried again with links this much longer …
_RELAX_TRIES = 10  # … up to this many times (the last try allows every link between touching cells)


# --- coordinates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalPlane:
    """An equirectangular plane in metres around (lng0, lat0): x east, y north.

    Over a district (±20 km) distances and areas are off by well under 0.2 %, which is plenty for
    adjacency and shape measures; `inverse` undoes `forward` exactly (up to float rounding)."""

    lng0: float
    lat0: float

    @classmethod
    def around(cls, lng: Any, lat: Any) -> LocalPlane:
        lng = np.asarray(lng, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        if lng.size == 0:
            return cls(0.0, 0.0)
        return cls(float((lng.min() + lng.max()) / 2), float((lat.min() + lat.max()) / 2))

    @property
    def _kx(self) -> float:
        return EARTH_RADIUS_M * math.cos(math.radians(self.lat0)) * math.pi / 180.0

    @property
    def _ky(self) -> float:
        return EARTH_RADIUS_M * math.pi / 180.0

    def forward(self, lng: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        lng = np.asarray(lng, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        return (lng - self.lng0) * self._kx, (lat - self.lat0) * self._ky

    def inverse(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        return x / self._kx + self.lng0, y / self._ky + self.lat0

    def to_local(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.forward(c[:, 0], c[:, 1])))

    def to_lnglat(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.inverse(c[:, 0], c[:, 1])))


# --- groups, graph, cells -------------------------------------------------------------------------------


def _group_index(groups: Any) -> tuple[list, np.ndarray, list[np.ndarray]]:
    """Sorted group keys, the key index per building and the building indices of every group."""
    arr = np.asarray(groups)
    keys, inv = np.unique(arr, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(keys) + 1))
    members = [order[bounds[g] : bounds[g + 1]] for g in range(len(keys))]
    return keys.tolist(), inv, members


def _spread_duplicates(
    x: np.ndarray, y: np.ndarray, members: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Buildings of one group at exactly the same point are moved onto a small circle around it (in input
    order), so that each gets a Voronoi cell and a place in the triangulation."""
    x = x.copy()
    y = y.copy()
    for idx in members:
        if len(idx) < 2:
            continue
        pts = np.column_stack([x[idx], y[idx]])
        _, first, inverse, counts = np.unique(
            pts, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
        if counts.max() == 1:
            continue
        inverse = inverse.reshape(-1)
        for u in np.flatnonzero(counts > 1):
            dup = idx[np.flatnonzero(inverse == u)]
            m = len(dup)
            angles = 2 * np.pi * np.arange(m) / m
            x[dup] = x[dup] + _DUPLICATE_RADIUS_M * np.cos(angles)
            y[dup] = y[dup] + _DUPLICATE_RADIUS_M * np.sin(angles)
    return x, y


def _triangulation_edges(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Delaunay edges (i < j, sorted, unique) of a point set; a path along the line when the points are
    (nearly) collinear or fewer than three."""
    n = len(px)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pts = np.column_stack([px, py])
    centred = pts - pts.mean(axis=0)
    if n >= 3:
        sv = np.linalg.svd(centred, compute_uv=False)
        if sv[1] > 1e-6 * max(sv[0], 1e-12):
            try:
                tri = Delaunay(pts)
            except Exception:  # Qhull refuses degenerate input: treat as collinear
                tri = None
            if tri is not None:
                indptr, indices = tri.vertex_neighbor_vertices
                src = np.repeat(np.arange(n), np.diff(indptr))
                keep = src < indices
                e = np.column_stack([src[keep], indices[keep]]).astype(np.int64)
                e = e[np.lexsort((e[:, 1], e[:, 0]))]
                used = np.zeros(n, dtype=bool)
                used[e.ravel()] = True
                if used.all():
                    return e
    # Collinear (or Qhull dropped points): a path in the order along the main direction.
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    order = np.lexsort((np.arange(n), centred @ vt[0]))
    e = np.column_stack([order[:-1], order[1:]])
    e = np.sort(e, axis=1)
    return e[np.lexsort((e[:, 1], e[:, 0]))].astype(np.int64)


def contiguity_graph(
    x: Any, y: Any, groups: Any, *, max_edge: float = MAX_EDGE_M, spanning_tree: bool = True
) -> csr_matrix:
    """Symmetric adjacency (CSR, int8) of buildings: Delaunay edges within each group no longer than
    `max_edge` metres, plus (by default) the group's Euclidean minimum spanning tree so every group is
    connected. No edge joins two groups."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    _, _, members = _group_index(groups)
    x, y = _spread_duplicates(x, y, members)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for idx in members:
        e = _triangulation_edges(x[idx], y[idx])
        if not len(e):
            continue
        d = np.hypot(x[idx][e[:, 0]] - x[idx][e[:, 1]], y[idx][e[:, 0]] - y[idx][e[:, 1]])
        keep = d <= max_edge
        if spanning_tree and not keep.all():
            m = len(idx)
            full = csr_matrix((d + 1e-9, (e[:, 0], e[:, 1])), shape=(m, m))
            mst = minimum_spanning_tree(full).tocoo()
            tree = np.zeros(m * m if m < 4096 else 0, dtype=bool)
            if len(tree):
                tree[np.minimum(mst.row, mst.col) * m + np.maximum(mst.row, mst.col)] = True
                keep |= tree[e[:, 0] * m + e[:, 1]]
            else:
                pairs = set(
                    zip(
                        np.minimum(mst.row, mst.col).tolist(),
                        np.maximum(mst.row, mst.col).tolist(),
                        strict=True,
                    )
                )
                keep |= np.fromiter(((a, b) in pairs for a, b in e.tolist()), dtype=bool, count=len(e))
        e = e[keep]
        rows.append(idx[e[:, 0]])
        cols.append(idx[e[:, 1]])
    if rows:
        r = np.concatenate(rows)
        c = np.concatenate(cols)
    else:
        r = c = np.zeros(0, dtype=np.int64)
    data = np.ones(2 * len(r), dtype=np.int8)
    graph = csr_matrix((data, (np.r_[r, c], np.r_[c, r])), shape=(n, n))
    graph.sum_duplicates()
    graph.data[:] = 1
    return graph


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a geometry (an intersection may add stray lines or points)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [
        p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty
    ]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _group_polygon(key: Hashable, polygons: Mapping[Hashable, BaseGeometry] | None, px, py, pad: float):
    poly = polygons.get(key) if polygons is not None else None
    if poly is None or poly.is_empty:
        hull = shapely.multipoints(np.column_stack([px, py])).convex_hull
        return hull.buffer(pad)
    return poly


def building_cells(
    x: Any,
    y: Any,
    groups: Any,
    group_polygons: Mapping[Hashable, BaseGeometry] | None,
    *,
    pad: float = MAX_EDGE_M / 2,
) -> np.ndarray:
    """The Voronoi cell of every building inside its group polygon (object array of shapely geometries).

    The cells of a group tile its polygon: no gap, no overlap. A group without a polygon uses the convex
    hull of its buildings grown by `pad` metres. A building outside its group polygon may get an empty cell."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keys, _, members = _group_index(groups)
    x, y = _spread_duplicates(x, y, members)
    cells = np.empty(len(x), dtype=object)
    for key, idx in zip(keys, members, strict=True):
        poly = _group_polygon(key, group_polygons, x[idx], y[idx], pad)
        cells[idx] = _group_cells(x[idx], y[idx], poly)
    return cells


def _group_cells(px: np.ndarray, py: np.ndarray, poly: BaseGeometry) -> np.ndarray:
    n = len(px)
    if n == 1:
        return np.array([poly], dtype=object)
    mp = shapely.multipoints(np.column_stack([px, py]))
    vor = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=poly, ordered=True))
    if len(vor) != n:  # cannot happen once duplicates are spread; be safe: match cells to points
        pts = shapely.points(px, py)
        tree = shapely.STRtree(vor)
        hit = tree.query(pts, predicate="intersects")
        chosen = np.full(n, -1)
        chosen[hit[0][::-1]] = hit[1][::-1]
        vor = np.array([vor[c] if c >= 0 else shapely.Polygon() for c in chosen], dtype=object)
    shapely.prepare(poly)
    cells = shapely.intersection(vor, poly)
    bad = ~np.isin(shapely.get_type_id(cells), (3, 6))
    for i in np.flatnonzero(bad):
        cells[i] = _polygonal(cells[i])
    return cells


def _shared_lengths(cells: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Length of the boundary shared by the cells of each pair (i, j) in e."""
    if not len(e):
        return np.zeros(0)
    boundaries = shapely.boundary(cells)
    return shapely.length(shapely.intersection(boundaries[e[:, 0]], boundaries[e[:, 1]]))


def grid_polygons(cells: np.ndarray, labels: Any) -> list[BaseGeometry]:
    """One polygon per grid label 0…max: the union of its buildings' cells."""
    labels = np.asarray(labels)
    if not len(labels):
        return []
    order = np.argsort(labels, kind="stable")
    m = int(labels.max()) + 1
    bounds = np.searchsorted(labels[order], np.arange(m + 1))
    out = []
    for g in range(m):
        part = cells[order[bounds[g] : bounds[g + 1]]]
        if len(part) == 0:
            out.append(shapely.Polygon())
        elif len(part) == 1:
            out.append(part[0])
        else:
            out.append(_polygonal(shapely.union_all(part)))
    return out


def polsby_popper(geoms: Any) -> np.ndarray:
    """4πA/P² of each geometry (1 for a disc, 0.785 for a square); 0 for an empty one."""
    geoms = np.asarray(geoms, dtype=object)
    area = shapely.area(geoms)
    length = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(length > 0, 4 * np.pi * area / np.maximum(length, 1e-300) ** 2, 0.0)
    return pp


def grid_count(total: int, lo: int = LO, hi: int = HI) -> int | None:
    """The number of grids for `total` households: the k with k·lo ≤ total ≤ k·hi whose average grid
    total/k is nearest the middle of the bounds (the most room on both sides; the smaller k on a tie);
    None when there is none."""
    ks = grid_counts(total, lo, hi)
    return ks[0] if ks else None


def grid_counts(total: int, lo: int = LO, hi: int = HI) -> list[int]:
    """Every k with k·lo ≤ total ≤ k·hi, best first (see `grid_count`)."""
    if total < lo or lo <= 0:
        return []
    mid = (lo + hi) / 2
    return sorted(range(-(-total // hi), total // lo + 1), key=lambda k: (abs(total / k - mid), k))


# --- results --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Oversize:
    """A building with more than `hi` households: it is a grid on its own."""

    building: Any
    group: Any
    households: int
    grid: int


@dataclass(frozen=True)
class Infeasible:
    """A group (or a part of it cut off in the contiguity graph) that cannot be split within bounds.

    reason: "below_minimum" (fewer than lo households), "no_grid_count" (no k with k·lo ≤ H ≤ k·hi),
    "granularity" (such a k exists but no contiguous split into grids of lo–hi households was found,
    because of building sizes or the shape of the graph; `building` is set when that is proved: the
    building through which more than hi households can only be reached in pieces below lo). `part_of_group`
    is true when only a part of the group cut off from the rest (by oversize buildings or a disconnected
    graph) is concerned."""

    group: Any
    reason: str
    households: int
    buildings: int
    part_of_group: bool
    detail: str
    building: Any = None  # for a proved "granularity": the building the proof turns on, …
    must_share: int | None = None  # … the households that must share its grid (more than hi) …
    behind: int | None = None  # … of which in buildings reachable only through it, in pieces below lo


@dataclass(frozen=True)
class Relaxed:
    """A group that had no split within bounds on the contiguity graph and got one after links between
    buildings up to `max_edge` metres apart (whose cells touch) were added. `grids`: the grids not
    connected without the added links; `longest_link`: the longest link they need; `because`: why the graph
    alone would not do (`because.building` is set when that is proved); `edges`: the added links (pairs of
    input positions), so the same graph can be rebuilt."""

    group: Any
    max_edge: float
    longest_link: float
    grids: int
    because: Infeasible
    edges: np.ndarray = field(repr=False)

    @property
    def proved(self) -> bool:
        return self.because.building is not None


@dataclass
class Redivision:
    labels: np.ndarray  # grid number (0…grids-1) of every building, in input order
    grid_group: list  # group key of every grid
    grid_households: np.ndarray
    grid_buildings: np.ndarray
    grid_codes: list  # the old code a grid keeps, or None
    polygons: list  # grid polygons in the metric plane (empty list when not asked for)
    oversize: list[Oversize]
    infeasible: list[Infeasible]
    lo: int
    hi: int
    stats: dict = field(default_factory=dict)
    relaxed: list[Relaxed] = field(default_factory=list)

    @property
    def grids(self) -> int:
        return len(self.grid_group)

    @property
    def within_bounds(self) -> np.ndarray:
        return (self.grid_households >= self.lo) & (self.grid_households <= self.hi)

    @property
    def infeasible_groups(self) -> set:
        return {issue.group for issue in self.infeasible}


# --- the algorithm --------------------------------------------------------------------------------------


def _viol(total: float, lo: int, hi: int) -> float:
    return max(0.0, lo - total) + max(0.0, total - hi)


def _log_pp(area: float, perim: float) -> float:
    """The local search's score of one grid: log of its Polsby–Popper value (concave, so raising a poor
    grid counts for more than raising a good one)."""
    if area <= 0.0 or perim <= 0.0:
        return -1e6
    return math.log(4.0 * math.pi * area / (perim * perim))


class _GroupSolver:
    """Splits one group (local indices 0…n-1) into grids."""

    def __init__(
        self,
        h: np.ndarray,
        px: np.ndarray,
        py: np.ndarray,
        area: np.ndarray,
        perim: np.ndarray,
        gedges: np.ndarray,
        vedges: np.ndarray,
        vlen: np.ndarray,
        lo: int,
        hi: int,
    ) -> None:
        self.n = n = len(h)
        self.h = h.astype(np.int64)
        self.px, self.py = px, py
        self.area, self.perim = area, perim
        self.ge, self.ve, self.vlen = gedges, vedges, vlen
        self.lo, self.hi = lo, hi
        self.pos = np.full(n, -1, dtype=np.int64)
        self.budget = 0
        self.hl = self.h.tolist()
        self.al = np.asarray(area, dtype=np.float64).tolist()
        self.pl = np.asarray(perim, dtype=np.float64).tolist()
        self.queued = bytearray(n)
        self.mark = [0] * n
        self.stamp = 0
        g_adj: list[list[int]] = [[] for _ in range(n)]
        for a, b in gedges.tolist():
            g_adj[a].append(b)
            g_adj[b].append(a)
        self.g_adj = g_adj
        self.g_set = [set(a) for a in g_adj]
        v_adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for (a, b), length in zip(vedges.tolist(), vlen.tolist(), strict=True):
            if length > 0.0:
                v_adj[a].append((b, length))
                v_adj[b].append((a, length))
        self.v_adj = v_adj

    # -- helpers on subsets ----------------------------------------------------------------------------

    def _sub_edges(self, nodes: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Edges with both ends in `nodes`, renumbered to positions in `nodes`; and the mask used."""
        pos = self.pos
        pos[nodes] = np.arange(len(nodes))
        a = pos[edges[:, 0]]
        b = pos[edges[:, 1]]
        pos[nodes] = -1
        m = (a >= 0) & (b >= 0)
        return a[m], b[m], m

    def _connected(self, members: list[int]) -> bool:
        """Do these buildings (local ids) induce a connected graph?"""
        if len(members) <= 1:
            return True
        self.stamp += 1
        stamp, mark, g_adj = self.stamp, self.mark, self.g_adj
        for u in members:
            mark[u] = stamp
        seen = self.stamp + 1
        self.stamp += 1
        mark[members[0]] = seen
        stack = [members[0]]
        count = 1
        while stack:
            u = stack.pop()
            for v in g_adj[u]:
                if mark[v] == stamp:
                    mark[v] = seen
                    count += 1
                    stack.append(v)
        return count == len(members)

    def _pieces(self, members: list[int]) -> list[list[int]]:
        """Connected pieces of the graph induced by `members` (local ids), in order of first member."""
        self.stamp += 2
        inside, done = self.stamp - 1, self.stamp
        mark, g_adj = self.mark, self.g_adj
        for u in members:
            mark[u] = inside
        out = []
        for s in members:
            if mark[s] != inside:
                continue
            mark[s] = done
            piece = [s]
            for u in piece:
                for v in g_adj[u]:
                    if mark[v] == inside:
                        mark[v] = done
                        piece.append(v)
            out.append(piece)
        return out

    def _make_connected(self, nodes: np.ndarray, side: np.ndarray) -> np.ndarray:
        """Every stray piece of a side (all but its heaviest connected piece) goes to the other side."""
        side = side.copy()
        pos = {u: i for i, u in enumerate(nodes.tolist())}
        h = self.hl
        for s in (True, False):
            pieces = self._pieces(nodes[side == s].tolist())
            if len(pieces) <= 1:
                continue
            keep = max(
                range(len(pieces)), key=lambda p: (sum(h[u] for u in pieces[p]) + 1e-6 * len(pieces[p]), -p)
            )
            for p, piece in enumerate(pieces):
                if p != keep:
                    side[[pos[u] for u in piece]] = not s
        return side

    def _local_adj(self, nodes: np.ndarray) -> list[list[int]]:
        a, b, _ = self._sub_edges(nodes, self.ge)
        adj: list[list[int]] = [[] for _ in range(len(nodes))]
        for u, v in zip(a.tolist(), b.tolist(), strict=True):
            adj[u].append(v)
            adj[v].append(u)
        return adj

    @staticmethod
    def _growth_order(proj: list[float], adj: list[list[int]]) -> tuple[list[int], bool]:
        """Nodes in the order a region grows from the lowest projection, always taking the lowest node on
        its frontier: every prefix is connected when the set is. Also: whether the set was connected."""
        n = len(proj)
        seen = bytearray(n)
        order: list[int] = []
        starts = sorted(range(n), key=proj.__getitem__)
        restarts = -1
        for s in starts:
            if seen[s]:
                continue
            restarts += 1
            seen[s] = 1
            heap = [(proj[s], s)]
            while heap:
                _, u = heapq.heappop(heap)
                order.append(u)
                for v in adj[u]:
                    if not seen[v]:
                        seen[v] = 1
                        heapq.heappush(heap, (proj[v], v))
        return order, restarts == 0

    @staticmethod
    def _connected_prefixes(order: list[int], adj: list[list[int]]) -> bytearray:
        """ok[p] == 1 when the first p nodes of `order` induce a connected graph (union–find)."""
        n = len(order)
        parent = list(range(n))
        added = bytearray(n)
        ok = bytearray(n + 1)
        comps = 0
        for p, u in enumerate(order):
            added[u] = 1
            comps += 1
            for v in adj[u]:
                if added[v]:
                    ru = u
                    while parent[ru] != ru:
                        parent[ru] = parent[parent[ru]]
                        ru = parent[ru]
                    rv = v
                    while parent[rv] != rv:
                        parent[rv] = parent[parent[rv]]
                        rv = parent[rv]
                    if ru != rv:
                        parent[ru] = rv
                        comps -= 1
            ok[p + 1] = comps == 1
        return ok

    def _scores(
        self, nodes: np.ndarray, orders: np.ndarray, k1: int, k2: int, window: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score of every cut of every order (rows), for the prefix taking k1 grids (first half of the
        rows of the result) and for the suffix taking them (second half); inf outside the window.

        score = cut length / √area + 4·(deviation of the average grid size from the mean, in half bands)²."""
        h = self.h[nodes]
        total = int(h.sum())
        k = k1 + k2
        r, n = orders.shape
        a, b, m = self._sub_edges(nodes, self.ve)
        lengths = self.vlen[m]
        rank = np.empty_like(orders)
        np.put_along_axis(rank, orders, np.broadcast_to(np.arange(n), orders.shape), axis=1)
        cum = np.cumsum(h[orders], axis=1)[:, :-1]  # households of the first p nodes, p = 1 … n-1
        ra, rb = rank[:, a], rank[:, b]
        off = (np.arange(r) * (n + 1))[:, None]
        w = np.broadcast_to(lengths, ra.shape).ravel()
        diff = np.bincount((np.minimum(ra, rb) + 1 + off).ravel(), weights=w, minlength=r * (n + 1))
        diff -= np.bincount((np.maximum(ra, rb) + 1 + off).ravel(), weights=w, minlength=r * (n + 1))
        cut: np.ndarray = np.cumsum(diff.reshape(r, n + 1), axis=1)[:, 1:n]
        cut /= math.sqrt(max(float(self.area[nodes].sum()), 1e-9))
        half_band = (self.hi - self.lo) / 2.0
        out = []
        for h1 in (cum, total - cum):
            dev = (h1 / k1 - total / k) / half_band
            score = cut + _BALANCE * dev * dev
            score[(h1 < window[0]) | (h1 > window[1])] = np.inf
            out.append(score)
        return np.vstack(out), cum

    def _exhaustive(self, nodes: np.ndarray, k1: int, k2: int, window: tuple[int, int]):
        """Every cut of a small set (≤ _EXHAUSTIVE buildings) into two connected sides with the k1 side's
        households inside the window, best score first."""
        n = len(nodes)
        h = self.h[nodes]
        total = int(h.sum())
        masks = np.arange(1, (1 << n) - 1, dtype=np.int64)
        bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
        sums = bits @ h
        ok = (sums >= window[0]) & (sums <= window[1])
        if not ok.any():
            return
        ga, gb, _ = self._sub_edges(nodes, self.ge)
        nbr = [0] * n
        for u, v in zip(ga.tolist(), gb.tolist(), strict=True):
            nbr[u] |= 1 << v
            nbr[v] |= 1 << u
        full = (1 << n) - 1
        # Cheap necessary condition: on a side of two or more, every building has a neighbour on its side.
        rest = full ^ masks
        big1 = bits.sum(axis=1) > 1
        big2 = (n - bits.sum(axis=1)) > 1
        for u in range(n):
            nb = nbr[u]
            alone = np.where(masks & (1 << u), ((masks & nb) == 0) & big1, ((rest & nb) == 0) & big2)
            ok &= ~alone
        if not ok.any():
            return
        masks, bits, sums = masks[ok], bits[ok], sums[ok]
        a, b, m = self._sub_edges(nodes, self.ve)
        cut = (bits[:, a] ^ bits[:, b]) @ self.vlen[m]
        cut = cut / math.sqrt(max(float(self.area[nodes].sum()), 1e-9))
        dev = (sums / k1 - total / (k1 + k2)) / ((self.hi - self.lo) / 2.0)
        score = cut + _BALANCE * dev * dev

        def connected(mask: int) -> bool:
            reach = mask & -mask
            frontier = reach
            while frontier:
                grow = 0
                f = frontier
                while f:
                    low = f & -f
                    grow |= nbr[low.bit_length() - 1]
                    f ^= low
                frontier = grow & mask & ~reach
                reach |= frontier
            return reach == mask

        for i in np.argsort(score, kind="stable")[:_EXHAUSTIVE_CHECKS].tolist():
            mask = int(masks[i])
            if connected(mask) and connected(full ^ mask):
                yield bits[i].copy()

    def _radial_orders(self, nodes: np.ndarray, adj: list[list[int]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For every building as a seed: the region growing nearest-first from it, and which of its cuts
        leave the rest connected."""
        n = len(nodes)
        qx = self.px[nodes]
        qy = self.py[nodes]
        out = []
        for s in range(n):
            dist = np.hypot(qx - qx[s], qy - qy[s]).tolist()
            order_list, connected = self._growth_order(dist, adj)
            valid = np.frombuffer(self._connected_prefixes(order_list[::-1], adj), dtype=np.uint8)
            valid = valid[n - 1 : 0 : -1].astype(bool)
            if not connected:
                pre = np.frombuffer(self._connected_prefixes(order_list, adj), dtype=np.uint8)
                valid &= pre[1:n].astype(bool)
            out.append((np.asarray(order_list, dtype=np.int64), valid))
        return out

    def _best_of_orders(self, nodes, grown, k1, k2, window, seen: set[bytes]):
        """Yield, best first, the best valid cut of each order in `grown` [(order, valid cuts)]."""
        n = len(nodes)
        g_orders = np.vstack([o for o, _ in grown])
        g_scores, _ = self._scores(nodes, g_orders, k1, k2, window)
        valid = np.vstack([v for _, v in grown] * 2)
        g_scores[~valid] = np.inf
        g_best = np.argmin(g_scores, axis=1)
        half = len(grown)
        for row in np.argsort(g_scores[np.arange(len(g_best)), g_best], kind="stable").tolist():
            p = int(g_best[row])
            if not np.isfinite(g_scores[row, p]):
                break
            order = g_orders[row % half]
            side = np.zeros(n, dtype=bool)
            side[order[: p + 1] if row < half else order[p + 1 :]] = True
            key = side.tobytes()
            if key not in seen:
                seen.add(key)
                yield side

    def _sides(self, nodes: np.ndarray, k1: int, k2: int, bounded: bool):
        """Yield ways to cut `nodes` into a connected side of k1 grids (True) and one of k2, best first.

        0. Sets of at most _EXHAUSTIVE buildings: every subset, nothing else (that is complete).
        1. Straight sweeps in 8 directions, each at its best point, if both sides are connected.
        2. Region growing along the same directions (every prefix connected), at the best point whose rest
           is connected too (found for all points at once with union–find); for sets of at most _RADIAL
           buildings also regions growing nearest-first from every building.
        3. The sweeps again with stray pieces moved across (`_make_connected`), if still within bounds."""
        lo, hi = self.lo, self.hi
        h = self.h[nodes]
        total = int(h.sum())
        n = len(nodes)
        if bounded:
            window = (max(k1 * lo, total - k2 * hi), min(k1 * hi, total - k2 * lo))
            if window[0] > window[1]:
                return
        else:
            window = (-1, total + 1)
        if n <= _EXHAUSTIVE:
            yield from self._exhaustive(nodes, k1, k2, window)
            return
        qx = self.px[nodes] - self.px[nodes].mean()
        qy = self.py[nodes] - self.py[nodes].mean()
        theta = np.pi * np.arange(_ANGLES) / _ANGLES
        proj = np.cos(theta)[:, None] * qx + np.sin(theta)[:, None] * qy
        tie = np.broadcast_to(np.arange(n), proj.shape)
        orders = np.lexsort((tie, proj), axis=-1)
        scores, _ = self._scores(nodes, orders, k1, k2, window)
        best = np.argmin(scores, axis=1)
        rows = [int(i) for i in np.argsort(scores[np.arange(len(best)), best], kind="stable")]
        seen: set[bytes] = set()
        sweeps = []
        for row in rows:
            p = int(best[row])
            if not np.isfinite(scores[row, p]):
                break
            order = orders[row % _ANGLES]
            side = np.zeros(n, dtype=bool)
            side[order[: p + 1] if row < _ANGLES else order[p + 1 :]] = True
            sweeps.append(side)
            key = side.tobytes()
            if key in seen:
                continue
            seen.add(key)
            if self._connected(nodes[side].tolist()) and self._connected(nodes[~side].tolist()):
                yield side
        # 2. region growing along the sweep directions, then (small sets) from every building outwards
        adj = self._local_adj(nodes)
        grown = []
        for t in range(_ANGLES):
            for sign in (1.0, -1.0):
                order_list, connected = self._growth_order((sign * proj[t]).tolist(), adj)
                valid = np.frombuffer(self._connected_prefixes(order_list[::-1], adj), dtype=np.uint8)
                valid = valid[n - 1 : 0 : -1].astype(bool)  # the rest (n-p nodes) connected, p = 1 … n-1
                if not connected:
                    pre = np.frombuffer(self._connected_prefixes(order_list, adj), dtype=np.uint8)
                    valid &= pre[1:n].astype(bool)
                grown.append((np.asarray(order_list, dtype=np.int64), valid))
        yield from self._best_of_orders(nodes, grown, k1, k2, window, seen)
        if n <= _RADIAL:
            yield from self._best_of_orders(nodes, self._radial_orders(nodes, adj), k1, k2, window, seen)
        # 3. repaired sweeps
        for side in sweeps:
            fixed = self._make_connected(nodes, side)
            key = fixed.tobytes()
            if key in seen:
                continue
            seen.add(key)
            h1 = int(h[fixed].sum())
            if window[0] <= h1 <= window[1]:
                yield fixed

    def _bisect(self, nodes: np.ndarray, k: int, bounded: bool) -> list[np.ndarray] | None:
        """Split `nodes` (connected) into k connected grids. Bounded: every grid within lo–hi; when no cut
        works within budget the set is split on a spanning tree instead (any number of grids, `_tree_split`);
        None when that fails too."""
        n = len(nodes)
        if k <= 1 or n <= 1:
            total = int(self.h[nodes].sum())
            if bounded and not (k == 1 and self.lo <= total <= self.hi):
                return self._tree_split(nodes)
            return [nodes]
        if n < k:
            if bounded:
                return self._tree_split(nodes)
            k = n
        k1 = k // 2
        k2 = k - k1
        tried = 0
        for side in self._sides(nodes, k1, k2, bounded):
            n1 = int(side.sum())
            if n1 == 0 or n1 == n:
                continue
            if not bounded:
                return cast(list[np.ndarray], self._bisect(nodes[side], min(k1, n1), False)) + cast(
                    list[np.ndarray], self._bisect(nodes[~side], min(k2, n - n1), False)
                )
            if n1 < k1 or n - n1 < k2:
                continue
            if self.budget <= 0 or tried >= _TRIES:
                break
            self.budget -= 1
            tried += 1
            left = self._bisect(nodes[side], k1, True)
            if left is None:
                continue
            right = self._bisect(nodes[~side], k2, True)
            if right is None:
                continue
            return left + right
        return self._tree_split(nodes) if bounded else [nodes]

    def _spanning_trees(self, nodes: np.ndarray, adj: list[list[int]]):
        """Spanning trees of a connected set as parent arrays in BFS order: breadth-first from the building
        nearest the centre (shallow), then the Euclidean minimum spanning tree (follows the streets)."""
        n = len(nodes)
        qx = self.px[nodes]
        qy = self.py[nodes]
        root = int(np.argmin(np.hypot(qx - qx.mean(), qy - qy.mean())))
        parent = [-1] * n
        seen = bytearray(n)
        seen[root] = 1
        order = [root]
        for u in order:
            for v in adj[u]:
                if not seen[v]:
                    seen[v] = 1
                    parent[v] = u
                    order.append(v)
        if len(order) < n:
            return
        yield order, parent
        a, b, _ = self._sub_edges(nodes, self.ge)
        if len(a) == n - 1:
            return  # the graph is a tree already
        d = np.hypot(qx[a] - qx[b], qy[a] - qy[b]) + 1e-9
        mst = minimum_spanning_tree(coo_matrix((d, (a, b)), shape=(n, n)).tocsr()).tocoo()
        tree: list[list[int]] = [[] for _ in range(n)]
        for u, v in zip(mst.row.tolist(), mst.col.tolist(), strict=True):
            tree[u].append(v)
            tree[v].append(u)
        parent = [-1] * n
        seen = bytearray(n)
        seen[root] = 1
        order = [root]
        for u in order:
            for v in tree[u]:
                if not seen[v]:
                    seen[v] = 1
                    parent[v] = u
                    order.append(v)
        if len(order) == n:
            yield order, parent

    def _no_split_proof(self, nodes: np.ndarray) -> tuple[int, int, int] | None:
        """A proof that the connected set has no split into connected grids of lo–hi households, or None.

        If removing a building v leaves a piece of fewer than lo households, every grid touching that
        piece must contain v (a grid without v would lie inside the piece), so the piece and v share v's
        grid. When v with all such pieces holds more than hi households, no split exists. One depth-first
        search finds, for every building, the pieces its removal leaves (subtrees cut off below it, and the
        rest). Returns (v, households that must share v's grid, buildings) for the largest such v."""
        lo, hi = self.lo, self.hi
        h = self.h[nodes].tolist()
        n = len(nodes)
        total = sum(h)
        adj = self._local_adj(nodes)
        disc = [-1] * n
        low = [0] * n
        sub = h[:]  # households of the DFS subtree
        cnt = [1] * n  # buildings of the DFS subtree
        glued = [0] * n  # households of the pieces cut off below v with fewer than lo households
        glued_n = [0] * n
        cut = [0] * n  # households of all pieces cut off below v
        cut_n = [0] * n
        disc[0] = 0
        clock = 1
        stack = [(0, -1, 0)]
        while stack:
            v, parent, i = stack[-1]
            if i < len(adj[v]):
                stack[-1] = (v, parent, i + 1)
                w = adj[v][i]
                if disc[w] < 0:
                    disc[w] = low[w] = clock
                    clock += 1
                    stack.append((w, v, 0))
                elif w != parent:
                    low[v] = min(low[v], disc[w])
                continue
            stack.pop()
            if parent >= 0:
                low[parent] = min(low[parent], low[v])
                sub[parent] += sub[v]
                cnt[parent] += cnt[v]
                if low[v] >= disc[parent]:  # v's subtree is a piece once parent is removed
                    cut[parent] += sub[v]
                    cut_n[parent] += cnt[v]
                    if sub[v] < lo:
                        glued[parent] += sub[v]
                        glued_n[parent] += cnt[v]
        if min(disc) < 0:
            return None
        best = None
        for v in range(n):
            must, count = h[v] + glued[v], 1 + glued_n[v]
            rest = total - h[v] - cut[v]
            if v and 0 < rest < lo:  # the piece above v (the root has none)
                must, count = must + rest, count + n - 1 - cut_n[v]
            if must > hi and (best is None or must > best[1]):
                best = (int(nodes[v]), must, count)
        return best

    def _tree_split(self, nodes: np.ndarray) -> list[np.ndarray] | None:
        """Cut a spanning tree of the set into connected pieces of lo–hi households each (any number of
        pieces), or None if no tried tree allows it. Exact dynamic programme on the tree: for every
        subtree, the set (a bitset) of possible households of the piece still open at its root."""
        lo, hi = self.lo, self.hi
        total = int(self.h[nodes].sum())
        if total < lo or not grid_counts(total, lo, hi):
            return None
        h = self.h[nodes].tolist()
        n = len(nodes)
        adj = self._local_adj(nodes)
        cap = (1 << (hi + 1)) - 1
        band = ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
        mid = (lo + hi) // 2

        def sumset(a: int, b: int) -> int:
            if a.bit_count() > b.bit_count():
                a, b = b, a
            out = 0
            while a:
                low = a & -a
                out |= b << (low.bit_length() - 1)
                a ^= low
            return out & cap

        def pick(bits: int, limit: int) -> int:
            """The weight in `bits` nearest mid (bits already restricted as needed)."""
            best, best_d = -1, None
            for w in range(mid, limit + 1):
                if (bits >> w) & 1:
                    best, best_d = w, w - mid
                    break
            for w in range(min(mid, limit), -1, -1):
                if (bits >> w) & 1:
                    if best_d is None or mid - w < best_d:
                        best = w
                    break
            return best

        for order, parent in self._spanning_trees(nodes, adj):
            children: list[list[int]] = [[] for _ in range(n)]
            for v in order[1:]:
                children[parent[v]].append(v)
            f = [0] * n
            states: list[list[int]] = [[] for _ in range(n)]
            for v in reversed(order):
                s = (1 << h[v]) & cap
                st = [s]
                for c in children[v]:
                    fc = f[c]
                    s = (s if fc & band else 0) | sumset(s, fc)
                    st.append(s)
                f[v] = s
                states[v] = st
            root = order[0]
            if not f[root] & band:
                continue
            piece = [-1] * n
            pieces = 0
            stack = [(root, pick(f[root] & band, hi), pieces)]
            pieces += 1
            while stack:
                v, w, pid = stack.pop()
                piece[v] = pid
                st = states[v]
                for j in range(len(children[v]) - 1, -1, -1):
                    c = children[v][j]
                    before = st[j]
                    fc = f[c]
                    if fc & band and (before >> w) & 1:  # cut: the child's subtree closes its own piece
                        stack.append((c, pick(fc & band, hi), pieces))
                        pieces += 1
                        continue
                    for wc in range(w + 1):  # merge: the child's open piece joins this one
                        if (fc >> wc) & 1 and (before >> (w - wc)) & 1:
                            stack.append((c, wc, pid))
                            w -= wc
                            break
                    else:  # cannot happen: the state says w is reachable
                        raise AssertionError("tree split reconstruction failed")
            piece_arr = np.asarray(piece, dtype=np.int64)
            return [nodes[piece_arr == p] for p in range(pieces)]
        return None

    # -- local search ----------------------------------------------------------------------------------

    def _improve(
        self, lab: list[int], nodes: list[int], frozen: list[bool], max_moves: int
    ) -> dict[int, float]:
        """Local search on the grids of `nodes` (labels in `lab`, changed in place): move a building on a
        boundary to a neighbouring grid when that keeps both grids connected, does not add to the
        households out of bounds, and lowers that excess or raises the two grids' summed `_log_pp`
        (exact: cell areas and perimeters, minus the edges the building shares with its grid).
        Returns each grid's Polsby–Popper value."""
        h, area, perim = self.hl, self.al, self.pl
        lo, hi = self.lo, self.hi
        g_adj, v_adj = self.g_adj, self.v_adj
        gH: dict[int, int] = {}
        gA: dict[int, float] = {}
        gP: dict[int, float] = {}
        gN: dict[int, int] = {}
        for i in nodes:
            g = lab[i]
            gH[g] = gH.get(g, 0) + h[i]
            gA[g] = gA.get(g, 0.0) + area[i]
            gP[g] = gP.get(g, 0.0) + perim[i]
            gN[g] = gN.get(g, 0) + 1
            for j, length in v_adj[i]:
                if lab[j] == g:
                    gP[g] -= length  # each shared edge is seen from both sides: −2L in total
        gF = {g: _log_pp(gA[g], gP[g]) for g in gA}
        fixed = {lab[i] for i in nodes if frozen[i]}

        order = [i for i in nodes if not frozen[i] and any(lab[j] != lab[i] for j in g_adj[i])]
        queue = deque(order)
        queued = self.queued
        for i in order:
            queued[i] = 1
        moves = 0
        while queue and moves < max_moves:
            i = queue.popleft()
            queued[i] = 0
            a = lab[i]
            if frozen[i] or gN[a] == 1:
                continue
            targets = sorted({lab[j] for j in g_adj[i]} - fixed - {a})
            if not targets:
                continue
            shared: dict[int, float] = {}
            for j, length in v_adj[i]:
                shared[lab[j]] = shared.get(lab[j], 0.0) + length
            h_i = h[i]
            v_a = _viol(gH[a], lo, hi)
            new_pa = gP[a] - perim[i] + 2.0 * shared.get(a, 0.0)
            new_aa = gA[a] - area[i]
            new_fa = _log_pp(new_aa, new_pa)
            best = None
            for b in targets:
                if b not in gA:
                    continue
                dviol = _viol(gH[a] - h_i, lo, hi) + _viol(gH[b] + h_i, lo, hi) - v_a - _viol(gH[b], lo, hi)
                if dviol > 0:
                    continue
                new_pb = gP[b] + perim[i] - 2.0 * shared.get(b, 0.0)
                new_fb = _log_pp(gA[b] + area[i], new_pb)
                gain = new_fa + new_fb - gF[a] - gF[b]
                if dviol < 0 or gain > 1e-9:
                    key = (dviol, -gain, b)
                    if best is None or key < best[0]:
                        best = (key, b, new_pb, new_fb)
            if best is None or not self._stays_connected(i, a, lab, gN[a]):
                continue
            _, b, new_pb, new_fb = best
            lab[i] = b
            gH[a] -= h_i
            gH[b] += h_i
            gA[a] = new_aa
            gA[b] += area[i]
            gP[a] = new_pa
            gP[b] = new_pb
            gF[a] = new_fa
            gF[b] = new_fb
            gN[a] -= 1
            gN[b] += 1
            moves += 1
            for j in [i, *g_adj[i], *(j for j, _ in v_adj[i])]:
                if not queued[j] and not frozen[j] and lab[j] in gA:
                    queued[j] = 1
                    queue.append(j)
        for i in queue:
            queued[i] = 0
        return {g: 4.0 * math.pi * gA[g] / gP[g] ** 2 if gP[g] > 0 else 0.0 for g in gA}

    def _stays_connected(self, i: int, g: int, lab: list[int], size: int) -> bool:
        """Is grid g still connected without building i?"""
        g_adj, g_set = self.g_adj, self.g_set
        nb = [j for j in g_adj[i] if lab[j] == g]
        if len(nb) <= 1:
            return True
        # Cheap test: i's neighbours in g are connected among themselves.
        seen = {nb[0]}
        stack = [nb[0]]
        nbs = set(nb)
        while stack:
            u = stack.pop()
            for v in g_set[u] & nbs:
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        if len(seen) == len(nb):
            return True
        # Full test: walk grid g from one neighbour, avoiding i.
        seen = {nb[0], i}
        stack = [nb[0]]
        while stack:
            u = stack.pop()
            for v in g_adj[u]:
                if v not in seen and lab[v] == g:
                    seen.add(v)
                    stack.append(v)
        return len(seen) - 1 == size - 1

    # -- one group -------------------------------------------------------------------------------------

    def solve(self) -> tuple[np.ndarray, list[tuple]]:
        """Grid label per local building (0…) and the problems found (reason, households, buildings,
        part_of_group, detail, proof of `granularity` as (building, households, buildings) or None)."""
        n, lo, hi = self.n, self.lo, self.hi
        lab = [-1] * n
        issues: list[tuple] = []
        big = self.h > hi
        frozen = big.tolist()
        next_label = 0
        for i in np.flatnonzero(big).tolist():
            lab[i] = next_label
            next_label += 1
        rest = np.flatnonzero(~big)
        if len(rest) == 0:
            return np.asarray(lab, dtype=np.int64), issues
        parts = [np.asarray(sorted(piece), dtype=np.int64) for piece in self._pieces(rest.tolist())]
        several = len(parts) > 1 or bool(big.any())
        proofs: list[tuple[int, int, int] | None] = []
        for part in parts:
            total = int(self.h[part].sum())
            members = part.tolist()
            ks = grid_counts(total, lo, hi)
            proofs.append(self._no_split_proof(part) if ks else None)
            best = None  # (score, labels of the part, within bounds)
            for attempt, kk in enumerate(ks[:_K_TRIES] if proofs[-1] is None else []):
                if attempt and best is not None and best[2] and (kk > _SMALL_K and best[3] >= _GOOD_PP):
                    break
                self.budget = 40 + 12 * kk
                result = self._bisect(part, kk, True)
                if result is None:
                    continue
                pp = self._place(lab, members, result, frozen, next_label)
                values = list(pp.values())
                score = sum(math.log(max(v, 1e-9)) for v in values) / len(values)
                if best is None or score > best[0] + 1e-12:
                    best = (score, [lab[i] for i in members], True, min(values))
            if best is None:
                kk = ks[0] if ks else max(1, min(len(part), round(total / ((lo + hi) / 2))))
                self.budget = 10**9
                self._place(
                    lab, members, cast(list[np.ndarray], self._bisect(part, kk, False)), frozen, next_label
                )
            else:
                for i, g in zip(members, best[1], strict=True):
                    lab[i] = g
            next_label = max(lab) + 1
        lab_arr = np.asarray(lab, dtype=np.int64)
        # Report what is still out of bounds, per connected part.
        sums = np.bincount(lab_arr, weights=self.h, minlength=next_label)
        for part, proof in zip(parts, proofs, strict=True):
            grids = np.unique(lab_arr[part])
            if all(lo <= sums[g] <= hi for g in grids):
                continue
            total = int(self.h[part].sum())
            if total < lo:
                reason, detail = "below_minimum", f"{total} households, fewer than {lo}"
            elif not grid_counts(total, lo, hi):
                reason = "no_grid_count"
                detail = f"{total} households: no number of grids k with k·{lo} ≤ {total} ≤ k·{hi}"
            elif proof is not None:
                reason = "granularity"
                pivot, must, count = proof
                detail = (
                    f"{total} households in {len(part)} buildings: no contiguous split into grids of {lo}–{hi} "
                    f"households exists — a building and the {count - 1} buildings reachable only through it "
                    f"(in pieces of fewer than {lo} households) hold {must} households, more than {hi}"
                )
            else:
                reason = "granularity"
                detail = (
                    f"{total} households in {len(part)} buildings (largest {int(self.h[part].max())}): "
                    f"no contiguous split into grids of {lo}–{hi} households found"
                )
            if several:
                detail += " (a part of the group cut off from the rest in the contiguity graph)"
            issues.append((reason, total, len(part), several, detail, proof))
        return lab_arr, issues

    def _place(self, lab: list[int], members: list[int], pieces: list[np.ndarray], frozen, first: int):
        """Label the pieces first, first+1, …, polish them with the local search; their PP values."""
        for g, nodes in enumerate(pieces):
            for i in nodes.tolist():
                lab[i] = first + g
        pp = self._improve(lab, members, frozen, max_moves=_MOVES * len(members) + 100)
        for _ in range(_ROUNDS):
            if (
                not pp
                or min(pp.values()) >= _RECOMBINE_BELOW
                or not self._recombine(lab, members, frozen, pp)
            ):
                break
            pp = self._improve(lab, members, frozen, max_moves=_MOVES * len(members) + 100)
        return pp

    def _recombine(self, lab: list[int], members: list[int], frozen, pp: dict[int, float]) -> bool:
        """For each grid less compact than _RECOMBINE_BELOW (worst first): merge it with each neighbouring
        grid in turn, cut the pair again at the best place (`_best_pair_split`) and keep the best pair that
        raises the two grids' summed score. Returns whether anything changed."""
        grid_nodes: dict[int, list[int]] = {}
        for i in members:
            grid_nodes.setdefault(lab[i], []).append(i)
        fixed = {lab[i] for i in members if frozen[i]}
        pp = dict(pp)
        changed = False
        for g in sorted(
            (g for g in pp if pp[g] < _RECOMBINE_BELOW and g not in fixed), key=lambda g: (pp[g], g)
        ):
            if pp[g] >= _RECOMBINE_BELOW:
                continue
            neighbours = sorted(
                {lab[j] for i in grid_nodes[g] for j in self.g_adj[i] if lab[j] != g and lab[j] in pp} - fixed
            )
            best = None
            for g2 in neighbours:
                nodes = np.asarray(grid_nodes[g] + grid_nodes[g2], dtype=np.int64)
                current = math.log(max(pp[g], 1e-12)) + math.log(max(pp[g2], 1e-12))
                found = self._best_pair_split(nodes)
                if found is None:
                    continue
                value, side, pp1, pp2 = found
                if value > current + 1e-6 and (best is None or value - current > best[0]):
                    best = (value - current, g2, nodes, side, pp1, pp2)
            if best is None:
                continue
            _, g2, nodes, side, pp1, pp2 = best
            one = nodes[side].tolist()
            two = nodes[~side].tolist()
            for i in one:
                lab[i] = g
            for i in two:
                lab[i] = g2
            grid_nodes[g] = one
            grid_nodes[g2] = two
            pp[g], pp[g2] = pp1, pp2
            changed = True
        return changed

    def _best_pair_split(self, nodes: np.ndarray) -> tuple[float, np.ndarray, float, float] | None:
        """The cut of a connected set into two connected grids within bounds that maximises
        log PP(one) + log PP(other), over region-growing orders along 8 directions (both ways) and from
        every building; exact areas and perimeters from the cells. (value, side mask, PP one, PP other)."""
        lo, hi = self.lo, self.hi
        n = len(nodes)
        h = self.h[nodes]
        total = int(h.sum())
        w_lo, w_hi = max(lo, total - hi), min(hi, total - lo)
        if w_lo > w_hi or n < 2:
            return None
        adj = self._local_adj(nodes)
        qx = self.px[nodes] - self.px[nodes].mean()
        qy = self.py[nodes] - self.py[nodes].mean()
        grown = []
        for t in range(_ANGLES):
            theta = math.pi * t / _ANGLES
            base = (qx * math.cos(theta) + qy * math.sin(theta)).tolist()
            for sign in (1.0, -1.0):
                grown.append(self._growth_order([sign * v for v in base], adj))
        if n <= _RADIAL:
            for s0 in range(n):
                grown.append(self._growth_order(np.hypot(qx - qx[s0], qy - qy[s0]).tolist(), adj))
        rows = []
        valids = []
        for order_list, connected in grown:
            valid = np.frombuffer(self._connected_prefixes(order_list[::-1], adj), dtype=np.uint8)
            valid = valid[n - 1 : 0 : -1].astype(bool)
            if not connected:
                pre = np.frombuffer(self._connected_prefixes(order_list, adj), dtype=np.uint8)
                valid &= pre[1:n].astype(bool)
            rows.append(order_list)
            valids.append(valid)
        orders = np.asarray(rows, dtype=np.int64)
        valid = np.vstack(valids)
        r = len(rows)
        rank = np.empty_like(orders)
        np.put_along_axis(rank, orders, np.broadcast_to(np.arange(n), orders.shape), axis=1)
        cum_h = np.cumsum(h[orders], axis=1)[:, :-1]
        valid &= (cum_h >= w_lo) & (cum_h <= w_hi)
        if not valid.any():
            return None
        a, b, m = self._sub_edges(nodes, self.ve)
        lengths = self.vlen[m]
        area = self.area[nodes]
        perim = self.perim[nodes]
        cum_a = np.cumsum(area[orders], axis=1)
        cum_p = np.cumsum(perim[orders], axis=1)
        ra, rb = rank[:, a], rank[:, b]
        off = (np.arange(r) * n)[:, None]
        w = np.broadcast_to(lengths, ra.shape).ravel()
        # shared length inside the prefix of p+1 nodes: edges whose later end has rank ≤ p
        inner_pre = np.cumsum(
            np.bincount((np.maximum(ra, rb) + off).ravel(), weights=w, minlength=r * n).reshape(r, n), axis=1
        )
        # inside the suffix from rank p+1: edges whose earlier end has rank ≥ p+1
        by_min = np.bincount((np.minimum(ra, rb) + off).ravel(), weights=w, minlength=r * n).reshape(r, n)
        inner_suf = np.cumsum(by_min[:, ::-1], axis=1)[:, ::-1]
        a1 = cum_a[:, :-1]
        p1 = cum_p[:, :-1] - 2.0 * inner_pre[:, :-1]
        a2 = cum_a[:, -1:] - a1
        p2 = (cum_p[:, -1:] - cum_p[:, :-1]) - 2.0 * inner_suf[:, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            pp1 = 4.0 * math.pi * a1 / (p1 * p1)
            pp2 = 4.0 * math.pi * a2 / (p2 * p2)
            value = np.log(np.maximum(pp1, 1e-12)) + np.log(np.maximum(pp2, 1e-12))
        value[~valid | ~np.isfinite(value)] = -np.inf
        flat = int(np.argmax(value))
        row, p = divmod(flat, n - 1)
        if not np.isfinite(value[row, p]):
            return None
        side = np.zeros(n, dtype=bool)
        side[orders[row, : p + 1]] = True
        return float(value[row, p]), side, float(pp1[row, p]), float(pp2[row, p])


def redivide(
    ids: Sequence[Any] | np.ndarray,
    x: Any,
    y: Any,
    households: Any,
    groups: Any,
    group_polygons: Mapping[Hashable, BaseGeometry] | None = None,
    *,
    codes: Sequence[Any] | None = None,
    lo: int = LO,
    hi: int = HI,
    graph: csr_matrix | None = None,
    max_edge: float = MAX_EDGE_M,
    keep_share: float = 0.5,
    polygons: bool = True,
    relax: bool = True,
) -> Redivision:
    """Propose new grids for the buildings of one or more groups (communities or blocks).

    ids: building ids (reported for oversize buildings); x, y: metres in one plane (`LocalPlane`);
    households: per building; groups: the community/block key per building — grids never span two;
    group_polygons: key → polygon in the same plane (the grids tile it; without one the hull of the
    buildings grown by max_edge/2 is used); codes: the current grid code per building (None/"" = none);
    graph: the contiguity graph (n×n, symmetric); built with `contiguity_graph(max_edge=…)` when not given;
    edges between groups are ignored. relax: a group with no split within bounds on the graph is tried
    again with longer links between buildings whose cells touch (reported in `relaxed`). keep_share ≥ 0.5:
    the share of households a new and an old grid must have in common, both ways, for the new grid to keep
    the old code."""
    if not 0.5 <= keep_share <= 1.0:
        raise ValueError("keep_share must lie in [0.5, 1]")
    if not 0 < lo <= hi:
        raise ValueError("bounds must satisfy 0 < lo ≤ hi")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    hh = np.asarray(households)
    n = len(x)
    if not (len(y) == len(hh) == n == len(ids) and np.asarray(groups).shape[0] == n):
        raise ValueError("ids, x, y, households and groups must have one entry per building")
    if n and not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("coordinates must be finite")
    if n and (hh < 0).any():
        raise ValueError("households must not be negative")
    hh = hh.astype(np.int64)
    ids = np.asarray(ids, dtype=object)
    keys, ginv, members = _group_index(groups) if n else ([], np.zeros(0, dtype=np.int64), [])
    if graph is None:
        graph = contiguity_graph(x, y, groups, max_edge=max_edge) if n else csr_matrix((0, 0))
    coo = graph.tocoo()
    inner = (coo.row < coo.col) & (ginv[coo.row] == ginv[coo.col]) if n else np.zeros(0, dtype=bool)
    ge_all = np.column_stack([coo.row[inner], coo.col[inner]]).astype(np.int64)
    # by group first: the edges of group gi are then one slice (buildings need not come in group order)
    ge_all = (
        ge_all[np.lexsort((ge_all[:, 1], ge_all[:, 0], ginv[ge_all[:, 0]]))]
        if len(ge_all)
        else ge_all.reshape(0, 2)
    )
    gstart = np.searchsorted(ginv[ge_all[:, 0]], np.arange(len(keys) + 1)) if len(ge_all) else None
    sx, sy = _spread_duplicates(x, y, members)

    labels = np.full(n, -1, dtype=np.int64)
    cells = np.empty(n, dtype=object)
    grid_group: list = []
    oversize: list[Oversize] = []
    infeasible: list[Infeasible] = []
    relaxed: list[Relaxed] = []
    local = np.full(n, -1, dtype=np.int64)
    next_label = 0
    for gi, (key, idx) in enumerate(zip(keys, members, strict=True)):
        px, py = sx[idx], sy[idx]
        poly = _group_polygon(key, group_polygons, px, py, max_edge / 2)
        c = _group_cells(px, py, poly)
        cells[idx] = c
        local[idx] = np.arange(len(idx))
        ve = _triangulation_edges(px, py)
        vlen = _shared_lengths(c, ve)
        if gstart is not None:
            ge = ge_all[gstart[gi] : gstart[gi + 1]]
            ge = local[ge] if len(ge) else np.zeros((0, 2), dtype=np.int64)
        else:
            ge = np.zeros((0, 2), dtype=np.int64)
        area, perim = shapely.area(c), shapely.length(c)
        lab, issues = _GroupSolver(hh[idx], px, py, area, perim, ge, ve, vlen, lo, hi).solve()
        if relax and any(issue[0] == "granularity" for issue in issues):
            found = _relax(hh[idx], px, py, area, perim, ge, ve, vlen, lo, hi, max_edge)
            if found is None:
                issues = [
                    (*issue[:4], issue[4] + " (nor with longer links between touching cells)", issue[5])
                    if issue[0] == "granularity"
                    else issue
                    for issue in issues
                ]
            else:
                why = _infeasible(key, next(issue for issue in issues if issue[0] == "granularity"), ids, idx)
                lab, issues, length, added = found
                longest, over = _links_needed(lab, px, py, ge, added)
                relaxed.append(Relaxed(key, length, longest, over, why, idx[added]))
        # Number grids in order of their first building (input order).
        first: dict[int, int] = {}
        for pos_, g in enumerate(lab.tolist()):
            first.setdefault(g, pos_)
        order = sorted(first, key=first.__getitem__)
        remap = np.empty(len(order), dtype=np.int64)
        remap[order] = np.arange(len(order)) + next_label
        labels[idx] = remap[lab]
        next_label += len(order)
        grid_group.extend([key] * len(order))
        for j in np.flatnonzero(hh[idx] > hi):
            b = idx[j]
            oversize.append(Oversize(ids[b], key, int(hh[b]), int(labels[b])))
        infeasible.extend(_infeasible(key, issue, ids, idx) for issue in issues)
        local[idx] = -1

    grid_h = (
        np.bincount(labels, weights=hh, minlength=next_label).astype(np.int64) if n else np.zeros(0, np.int64)
    )
    grid_b = np.bincount(labels, minlength=next_label).astype(np.int64) if n else np.zeros(0, np.int64)
    grid_codes = _kept_codes(codes, labels, hh, grid_h, lo, hi, keep_share, next_label)
    polys = grid_polygons(cells, labels) if polygons else []
    return Redivision(
        labels=labels,
        grid_group=grid_group,
        grid_households=grid_h,
        grid_buildings=grid_b,
        grid_codes=grid_codes,
        polygons=polys,
        oversize=oversize,
        infeasible=infeasible,
        lo=lo,
        hi=hi,
        stats={"buildings": n, "groups": len(keys), "edges": len(ge_all)},
        relaxed=relaxed,
    )


def _infeasible(key, issue: tuple, ids: np.ndarray, idx: np.ndarray) -> Infeasible:
    reason, total, count, part, detail, proof = issue
    if proof is None:
        return Infeasible(key, reason, total, count, part, detail)
    pivot, must, buildings = proof
    return Infeasible(key, reason, total, count, part, detail, ids[idx[pivot]], must, buildings - 1)


def _relax(h, px, py, area, perim, ge, ve, vlen, lo, hi, max_edge):
    """Solve a group again on its graph plus the links between buildings whose cells touch, allowing
    longer links step by step (the last step allows all of them). The first layout where no part is short
    of a split within bounds: (labels, issues, link length allowed, added edges); None when there is none."""
    if not len(ve):
        return None
    length = np.hypot(px[ve[:, 0]] - px[ve[:, 1]], py[ve[:, 0]] - py[ve[:, 1]])
    n = len(h)  # both edge lists hold pairs (i, j) with i < j
    fresh = (vlen > 0.0) & ~np.isin(ve[:, 0] * n + ve[:, 1], ge[:, 0] * n + ge[:, 1])
    cands, cand_len = ve[fresh], length[fresh]
    if not len(cands):
        return None
    longest = float(cand_len.max())
    limit = max_edge
    for attempt in range(_RELAX_TRIES):
        limit = limit * _RELAX_STEP if attempt < _RELAX_TRIES - 1 else math.inf
        if limit >= longest:
            limit = math.inf
        added = cands[cand_len <= limit]
        if not len(added):
            continue
        edges = np.concatenate([ge, added])
        lab, issues = _GroupSolver(h, px, py, area, perim, edges, ve, vlen, lo, hi).solve()
        if not any(issue[0] == "granularity" for issue in issues):
            used = float(cand_len[cand_len <= limit].max()) if limit == math.inf else limit
            return lab, issues, used, added
        if limit == math.inf:
            break
    return None


def _links_needed(lab, px, py, ge, added) -> tuple[float, int]:
    """Of the grids not connected on the original graph alone: how many there are, and the longest link
    they need (the longest edge of their minimum spanning trees on the relaxed graph)."""
    n = len(lab)
    base = ge[lab[ge[:, 0]] == lab[ge[:, 1]]]
    g = coo_matrix((np.ones(len(base)), (base[:, 0], base[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    pieces = np.bincount(lab[np.unique(comp, return_index=True)[1]], minlength=int(lab.max()) + 1)
    edges = np.concatenate([ge, added])
    e = edges[(lab[edges[:, 0]] == lab[edges[:, 1]]) & (pieces[lab[edges[:, 0]]] > 1)]
    d = np.hypot(px[e[:, 0]] - px[e[:, 1]], py[e[:, 0]] - py[e[:, 1]]) + 1e-9
    mst = minimum_spanning_tree(csr_matrix((d, (e[:, 0], e[:, 1])), shape=(n, n)))
    longest = float(mst.data.max() - 1e-9) if mst.nnz else 0.0
    return longest, int((pieces > 1).sum())


def _kept_codes(codes, labels, hh, grid_h, lo, hi, keep_share, m) -> list:
    """Old code per new grid: kept when the old grid was within bounds and both share > keep_share of
    each other's households."""
    out: list = [None] * m
    if codes is None or not len(labels):
        return out
    codes = np.asarray([c if c not in (None, "") else "" for c in codes], dtype=object)
    has = codes != ""
    if not has.any():
        return out
    old_keys, old_inv = np.unique(codes[has].astype(str), return_inverse=True)
    old_h = np.bincount(old_inv, weights=hh[has], minlength=len(old_keys))
    pair = labels[has] * len(old_keys) + old_inv
    uniq, pinv = np.unique(pair, return_inverse=True)
    overlap = np.bincount(pinv, weights=hh[has])
    for p, ov in zip(uniq.tolist(), overlap.tolist(), strict=True):
        g, o = divmod(p, len(old_keys))
        if not lo <= old_h[o] <= hi:
            continue
        if ov > keep_share * grid_h[g] and ov > keep_share * old_h[o] and ov > 0:
            out[g] = str(old_keys[o])
    return out
