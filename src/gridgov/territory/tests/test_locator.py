"""The point → grid locator: exact agreement with shapely, and rebuilding when grids change."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgov.core.models import Revision
from gridgov.territory import geo, locator, services
from gridgov.territory.locator import GridIndex
from gridgov.territory.tests.conftest import GRID_BOXES, polygon_json


def brute_force(polygons, x, y) -> np.ndarray:
    """Index of the first polygon whose interior holds each point: shapely's exact test through an
    STRtree (point within polygon), independent of the locator."""
    out = np.full(len(x), len(polygons), dtype=np.int64)
    pt, poly = shapely.STRtree(polygons).query(shapely.points(x, y), predicate="within")
    np.minimum.at(out, pt, poly)
    out[out == len(polygons)] = -1
    return out


def voronoi_grids(n: int, seed: int, bbox=(113.97, 22.60, 114.13, 22.78)):
    rng = np.random.default_rng(seed)
    outline = shapely.box(*bbox)
    seeds = shapely.points(rng.uniform(bbox[0], bbox[2], n), rng.uniform(bbox[1], bbox[3], n))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline))
    return [shapely.intersection(c, outline) for c in cells]


def tricky_polygons():
    """A polygon with a hole, a multipolygon, a thin sliver, a polygon inside the hole, a concave one."""
    ring = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], holes=[[(3, 3), (7, 3), (7, 7), (3, 7)]])
    island = shapely.box(4, 4, 6, 6)
    multi = shapely.MultiPolygon([shapely.box(11, 0, 12, 1), shapely.box(11, 2, 12, 3)])
    sliver = shapely.Polygon([(12.5, 0), (20, 0.0004), (12.5, 0.0008)])
    concave = shapely.Polygon([(13, 2), (19, 2), (19, 9), (16, 4), (13, 9)])
    return [ring, island, multi, sliver, concave]


# --- GridIndex (no database) ----------------------------------------------------------------------
def test_squares_inside_outside_and_on_edges():
    boxes = list(GRID_BOXES.values())
    polys = [shapely.box(*b) for b in boxes]
    index = GridIndex(list(range(100, 100 + len(polys))), polys)
    centres = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes])
    assert index.locate_many(centres[:, 0], centres[:, 1]).tolist() == list(range(100, 105))
    outside = np.array([[113.99, 22.605], [114.05, 22.605], [114.015, 22.615], [0.0, 0.0], [114.02, 22.63]])
    assert (index.locate_many(outside[:, 0], outside[:, 1]) == -1).all()
    # Shared edges, corners and the outer boundary are in no grid's interior (as shapely says).
    edges = np.array([[114.01, 22.605], [114.02, 22.60], [114.00, 22.61], [114.005, 22.61], [114.04, 22.605]])
    assert (index.locate_many(edges[:, 0], edges[:, 1]) == -1).all()
    assert (brute_force(polys, edges[:, 0], edges[:, 1]) == -1).all()


def test_agrees_with_shapely_on_voronoi_grids():
    polys = voronoi_grids(300, seed=7)
    index = GridIndex(list(range(len(polys))), polys)
    rng = np.random.default_rng(11)
    x = rng.uniform(113.96, 114.14, 200_000)
    y = rng.uniform(22.59, 22.79, 200_000)
    got = index.locate_indices(x, y)
    assert (got == brute_force(polys, x, y)).all()
    assert (got >= 0).mean() > 0.8


def test_agrees_with_shapely_on_and_next_to_boundaries():
    polys = voronoi_grids(60, seed=3)
    index = GridIndex(list(range(len(polys))), polys)
    boundary = shapely.get_coordinates(shapely.boundary(polys))  # every vertex
    rng = np.random.default_rng(5)
    lines = shapely.boundary(polys)
    along = shapely.get_coordinates(
        shapely.line_interpolate_point(
            np.repeat(lines, 50), rng.uniform(0, 1, len(lines) * 50), normalized=True
        )
    )
    pts = np.vstack([boundary, along])
    for jitter in (0.0, 1e-12, 1e-10, 1e-9, 1e-7):
        x = pts[:, 0] + rng.uniform(-jitter, jitter, len(pts))
        y = pts[:, 1] + rng.uniform(-jitter, jitter, len(pts))
        assert (index.locate_indices(x, y) == brute_force(polys, x, y)).all(), jitter


def test_holes_multipolygons_slivers_and_concave_shapes():
    polys = tricky_polygons()
    index = GridIndex(list(range(len(polys))), polys)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 21, 300_000)
    y = rng.uniform(-1, 11, 300_000)
    assert (index.locate_indices(x, y) == brute_force(polys, x, y)).all()
    x = np.array([5.0, 1.0, 3.5, 11.5, 11.5, 11.5, 15.0, 18.0, 18.0, 16.0])
    y = np.array([5.0, 1.0, 3.5, 0.5, 1.5, 2.5, 0.0004, 7.0, 8.0, 3.0])
    assert index.locate_indices(x, y).tolist() == [1, 0, -1, 2, -1, 2, 3, 4, -1, 4]


def test_overlapping_polygons_resolve_to_the_first():
    polys = [shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3), shapely.box(1.5, 0, 2.5, 0.5)]
    index = GridIndex([10, 20, 30], polys)
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.5, 3.5, 100_000)
    y = rng.uniform(-0.5, 3.5, 100_000)
    assert (index.locate_indices(x, y) == brute_force(polys, x, y)).all()
    assert index.locate_many([1.5, 2.5, 1.75], [1.5, 2.5, 0.25]).tolist() == [10, 20, 10]


def test_empty_index_and_odd_input():
    empty = GridIndex([], [])
    assert empty.locate_many(np.array([114.0]), np.array([22.6])).tolist() == [-1]
    index = GridIndex([1], [shapely.box(114.0, 22.6, 114.01, 22.61)])
    got = index.locate_many(
        np.array([np.nan, np.inf, 114.005, -np.inf]), np.array([22.605, 22.605, np.nan, 0])
    )
    assert got.tolist() == [-1, -1, -1, -1]
    assert index.locate_many([], []).tolist() == []
    with pytest.raises(ValueError):
        index.locate_many([1.0, 2.0], [1.0])


def test_empty_polygons_are_harmless():
    polys = [shapely.box(0, 0, 1, 1), shapely.Polygon(), shapely.box(1, 0, 2, 1), shapely.Polygon()]
    index = GridIndex([1, 2, 3, 4], polys)
    assert index.locate_many([0.5, 1.5, 1.0, 3.0], [0.5, 0.5, 0.5, 0.5]).tolist() == [1, 3, -1, -1]
    assert GridIndex([9], [shapely.Polygon()]).locate_many([0.0], [0.0]).tolist() == [-1]


def test_one_tiny_grid():
    tiny = shapely.box(114.0, 22.6, 114.00001, 22.60001)
    index = GridIndex([7], [tiny])
    assert index.locate_many([114.000005, 114.00002], [22.600005, 22.600005]).tolist() == [7, -1]


def test_build_is_fast_for_a_district_of_grids():
    polys = voronoi_grids(2500, seed=1)
    index = GridIndex(list(range(len(polys))), polys)
    assert index.build_seconds < 10  # about one second on a laptop core
    rng = np.random.default_rng(4)
    x = rng.uniform(113.97, 114.13, 100_000)
    y = rng.uniform(22.60, 22.78, 100_000)
    assert (index.locate_indices(x, y) == brute_force(polys, x, y)).all()


def test_concurrent_queries_agree():
    polys = voronoi_grids(200, seed=9)
    index = GridIndex(list(range(len(polys))), polys)
    rng = np.random.default_rng(8)
    x = rng.uniform(113.97, 114.13, 50_000)
    y = rng.uniform(22.60, 22.78, 50_000)
    want = brute_force(polys, x, y)
    failures = []

    def work():
        for _ in range(5):
            if not (index.locate_indices(x, y) == want).all():
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


@st.composite
def polygon_sets(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    seed = draw(st.integers(min_value=0, max_value=2**31))
    return voronoi_grids(n, seed, bbox=(114.0, 22.6, 114.0 + draw(st.floats(0.001, 0.3)), 22.7))


@settings(max_examples=25, deadline=None)
@given(polygon_sets(), st.integers(min_value=0, max_value=2**31))
def test_property_agrees_with_exact_test(polys, seed):
    index = GridIndex(list(range(len(polys))), polys)
    minx, miny, maxx, maxy = shapely.total_bounds(polys)
    rng = np.random.default_rng(seed)
    x = rng.uniform(minx - 0.001, maxx + 0.001, 5_000)
    y = rng.uniform(miny - 0.001, maxy + 0.001, 5_000)
    # Also points exactly on vertices and edges.
    coords = shapely.get_coordinates(shapely.boundary(polys))
    x = np.concatenate([x, coords[:, 0], (coords[:-1, 0] + coords[1:, 0]) / 2])
    y = np.concatenate([y, coords[:, 1], (coords[:-1, 1] + coords[1:, 1]) / 2])
    assert (index.locate_indices(x, y) == brute_force(polys, x, y)).all()


# --- the process-wide locator over the database ---------------------------------------------------
def test_locate_finds_each_grid(territory):
    for code, (minx, miny, maxx, maxy) in GRID_BOXES.items():
        area = locator.locate((minx + maxx) / 2, (miny + maxy) / 2)
        assert area is not None and area.code == code
    assert locator.locate(114.05, 22.605) is None
    lngs = np.array([114.005, 114.035, 114.5])
    lats = np.array([22.605, 22.605, 22.605])
    ids = locator.locate_many(lngs, lats)
    assert ids.tolist() == [territory.grid_a1.pk, territory.grids["440309002002002"].pk, -1]


def test_locate_converts_gcj02_and_bd09(territory):
    lng, lat = 114.005, 22.605  # WGS-84, inside grid A-001 (the offsets move it ~500 m and ~1 km)
    for crs in ("wgs84", "gcj02", "bd09"):
        there = geo.from_wgs84(lng, lat, crs)
        assert locator.locate(*there, crs=crs).code == "440309002001001"
    # The same numbers read as WGS-84 land somewhere else.
    gx, gy = geo.from_wgs84(lng, lat, "bd09")
    assert getattr(locator.locate(gx, gy), "code", None) != "440309002001001"


def test_rebuilds_after_a_grid_changes_through_the_service(territory, users):
    point = (114.045, 22.605)  # east of every grid
    assert locator.locate(*point) is None
    services.update_area(
        actor=users.admin, area_code="440309002002002", geometry=polygon_json(114.03, 22.60, 114.05, 22.61)
    )
    assert locator.locate(*point).code == "440309002002002"
    services.update_area(actor=users.admin, area_code="440309002002002", is_active=False)
    assert locator.locate(*point) is None
    assert locator.locate(114.035, 22.605) is None


def test_unchanged_revision_keeps_the_index(territory):
    loc = locator.get_locator()
    first = loc.index()
    assert loc.index() is first
    services.grids_changed()
    assert loc.index() is not first


def test_checks_the_revision_at_most_every_interval(territory):
    loc = locator.get_locator()
    loc.check_interval = 3600
    first = loc.index()
    services.grids_changed()
    assert loc.index() is first  # not re-checked yet
    loc.check_interval = 0
    assert loc.index() is not first


def test_readers_keep_the_old_index_while_one_thread_rebuilds(monkeypatch):
    polys_a = [shapely.box(0, 0, 1, 1)]
    polys_b = [shapely.box(0, 0, 2, 2)]
    state = {"revision": 1, "polys": polys_a}
    building = threading.Event()
    release = threading.Event()

    def fake_load():
        if state["revision"] == 2:
            building.set()
            release.wait(5)
        return [1], state["polys"]

    monkeypatch.setattr(locator, "load_active_grids", fake_load)
    monkeypatch.setattr(Revision, "current", classmethod(lambda cls, name: state["revision"]))
    loc = locator.Locator(check_interval=0)
    assert loc.index().locate_many([1.5], [1.5]).tolist() == [-1]
    state.update(revision=2, polys=polys_b)
    builder = threading.Thread(target=loc.index)
    builder.start()
    assert building.wait(5)
    # While the builder holds the lock, others answer from the previous index at once.
    assert loc.index().revision == 1
    release.set()
    builder.join(5)
    assert loc.index().revision == 2
    assert loc.index().locate_many([1.5], [1.5]).tolist() == [1]
