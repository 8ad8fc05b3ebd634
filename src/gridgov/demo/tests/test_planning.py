"""The pure planning layer: geometry partitions and sizes, without the database."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from gridgov.demo import geometry as geo
from gridgov.demo.data import COMMUNITY_NAMES, SCALES, SUBDISTRICTS, chinese_number
from gridgov.demo.planning import CompoundNames, plan_buildings, plan_territory


def assert_partition(parent, children, tol: float = 1e-9) -> None:
    """Children lie in the parent, do not overlap, and cover it without gaps."""
    halo = parent.buffer(tol)
    for child in children:
        assert child.is_valid
        assert halo.covers(child)
    for i, a in enumerate(children):
        for b in children[i + 1 :]:
            assert shapely.intersection(a, b).area <= 1e-12 * parent.area
    assert abs(sum(c.area for c in children) - parent.area) <= 1e-9 * parent.area
    assert shapely.symmetric_difference(shapely.union_all(children), parent).area <= 1e-9 * parent.area


def test_names_are_complete_and_unique():
    names = [n for names in COMMUNITY_NAMES.values() for n in names]
    assert len(names) == 108 == len(set(names))
    assert list(COMMUNITY_NAMES) == [code for code, _, _ in SUBDISTRICTS]
    assert COMMUNITY_NAMES["440309002"][:3] == ("民治", "民泰", "北站")
    assert [chinese_number(n) for n in (1, 9, 10, 12, 20, 35)] == ["一", "九", "十", "十二", "二十", "三十五"]


def test_outline_is_valid_and_in_the_box():
    outline = geo.district_outline()
    assert outline.is_valid
    min_x, min_y, max_x, max_y = outline.bounds
    assert 113.98 <= min_x < max_x <= 114.12
    assert 22.60 <= min_y < max_y <= 22.79


def test_partition_of_a_concave_polygon_is_exact():
    u_shape = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    rng = np.random.default_rng(7)
    for n in (2, 5, 12):
        children = geo.partition(u_shape, n, rng)
        assert len(children) == n
        assert_partition(u_shape, children)


def test_plan_is_deterministic():
    a, b = plan_territory("small", 1), plan_territory("small", 1)
    c = plan_territory("small", 2)

    def key(plan):
        return [(x.code, x.name, x.households, x.geom.wkb) for level in plan.levels() for x in level]

    assert key(a) == key(b)
    assert key(a) != key(c)


@pytest.mark.parametrize("scale", ["district", "longhua"])
def test_large_scales_plan(scale):
    plan = plan_territory(scale, 20261122)
    assert len(plan.subdistricts) == 6
    assert len(plan.communities) == 108
    assert plan.district.geom.equals(geo.district_outline())
    assert all(300 <= g.households <= 500 for g in plan.grids)
    assert len({a.code for level in plan.levels() for a in level}) == sum(
        len(level) for level in plan.levels()
    )
    if scale == "district":
        assert 90_000 <= plan.district.households <= 110_000
    else:
        assert 900_000 <= plan.district.households <= 1_100_000
        assert 2_200 <= len(plan.grids) <= 2_800
    assert_partition(plan.district.geom, [s.geom for s in plan.subdistricts])
    for sub in plan.subdistricts:
        assert len(sub.children) == SCALES[scale].communities[sub.code]
        assert_partition(sub.geom, [c.geom for c in sub.children])


def test_buildings_fill_each_grid_exactly():
    plan = plan_territory("small", 3)
    names = CompoundNames()
    for comm in plan.communities:
        grids = sorted((g for b in comm.children for g in b.children), key=lambda g: g.code)
        buildings = plan_buildings(comm, grids, 3, names)
        for grid in grids:
            mine = [b for b in buildings if b.grid is grid]
            assert mine
            assert sum(b.households for b in mine) == grid.households
            shapely.prepare(grid.geom)
            assert all(shapely.contains_xy(grid.geom, b.lng, b.lat) for b in mine)
        assert [b.code for b in buildings] == [f"{comm.code}{i:05d}" for i in range(1, len(buildings) + 1)]
