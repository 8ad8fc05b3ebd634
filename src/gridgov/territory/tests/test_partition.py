"""Grid re-division (territory/partition.py): unit tests and hypothesis properties on synthetic inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridgov.territory import geo
from gridgov.territory import partition as P

SIDE = 600.0  # metres: each synthetic group is a square this wide, groups side by side along x


def make_groups(sizes, seed, hh_range=(5, 40), side=SIDE):
    """Buildings uniformly in squares side by side; returns ids, x, y, households, groups, polygons."""
    rng = np.random.default_rng(seed)
    xs, ys, hs, gs = [], [], [], []
    polys = {}
    for g, n in enumerate(sizes):
        x0 = g * side
        polys[f"G{g}"] = shapely.box(x0, 0.0, x0 + side, side)
        xs.append(rng.uniform(x0 + 5, x0 + side - 5, n))
        ys.append(rng.uniform(5, side - 5, n))
        hs.append(rng.integers(hh_range[0], hh_range[1] + 1, n))
        gs.extend([f"G{g}"] * n)
    x = np.concatenate(xs)
    return np.arange(len(x)), x, np.concatenate(ys), np.concatenate(hs), np.asarray(gs), polys


def check_partition(r, x, y, hh, groups, polys, graph):
    """The invariants every result must satisfy; returns the set of groups whose grids are all in bounds."""
    n = len(x)
    labels = r.labels
    graph = with_relaxed_links(graph, r)
    # every building in exactly one grid, grids numbered 0…grids-1
    assert labels.shape == (n,)
    assert labels.min() >= 0 and labels.max() == r.grids - 1
    assert set(np.unique(labels).tolist()) == set(range(r.grids))
    # no grid spans two groups, and grid_group says which
    for g in range(r.grids):
        members = np.flatnonzero(labels == g)
        assert set(groups[members].tolist()) == {r.grid_group[g]}
        assert r.grid_households[g] == hh[members].sum()
        assert r.grid_buildings[g] == len(members)
        # contiguity on the graph
        if len(members) > 1:
            assert connected_components(graph[members][:, members], directed=False)[0] == 1
    # polygons tile each group: no gap (union = group) and no overlap (areas add up)
    for key, poly in polys.items():
        grids = [g for g in range(r.grids) if r.grid_group[g] == key]
        if not grids:
            continue
        parts = [r.polygons[g] for g in grids]
        union = shapely.union_all(parts)
        assert union.symmetric_difference(poly).area <= 1e-6 * poly.area
        assert abs(sum(p.area for p in parts) - poly.area) <= 1e-6 * poly.area
    # bounds: every grid of a group that is not reported, except oversize single buildings
    oversize = {o.grid for o in r.oversize}
    reported = r.infeasible_groups
    ok_groups = set()
    for key in set(groups.tolist()):
        grids = [g for g in range(r.grids) if r.grid_group[g] == key and g not in oversize]
        in_bounds = all(r.lo <= r.grid_households[g] <= r.hi for g in grids)
        if key not in reported:
            assert in_bounds, (key, [int(r.grid_households[g]) for g in grids])
            ok_groups.add(key)
    for o in r.oversize:
        assert o.households > r.hi and r.grid_buildings[o.grid] == 1
    return ok_groups


def with_relaxed_links(graph, r):
    """The graph plus the links a result added for groups it could not split on the graph alone."""
    if not r.relaxed:
        return graph
    e = np.concatenate([item.edges for item in r.relaxed])
    extra = coo_matrix(
        (np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=graph.shape
    )
    return (graph + extra).tocsr()


def run(ids, x, y, hh, groups, polys, **kw):
    graph = kw.pop("graph", None)
    if graph is None:
        graph = P.contiguity_graph(x, y, groups, max_edge=kw.pop("max_edge", P.MAX_EDGE_M))
    return P.redivide(ids, x, y, hh, groups, polys, graph=graph, **kw), graph


# --- unit tests -----------------------------------------------------------------------------------------


def test_local_plane_round_trip_and_scale():
    lng = np.array([114.00, 114.05, 114.10])
    lat = np.array([22.60, 22.70, 22.78])
    plane = P.LocalPlane.around(lng, lat)
    x, y = plane.forward(lng, lat)
    back = plane.inverse(x, y)
    assert np.allclose(back[0], lng, atol=1e-12) and np.allclose(back[1], lat, atol=1e-12)
    d_plane = np.hypot(x[0] - x[2], y[0] - y[2])
    d_true = geo.haversine_m(lng[0], lat[0], lng[2], lat[2])
    assert abs(d_plane - d_true) / d_true < 2e-3
    square = shapely.box(114.0, 22.6, 114.01, 22.61)
    assert plane.to_lnglat(plane.to_local(square)).equals_exact(square, 1e-12)


def test_grid_count():
    assert P.grid_count(299) is None
    assert P.grid_count(300) == 1
    assert P.grid_count(500) == 1
    assert P.grid_count(550) is None  # 501–599: one grid is too big, two are too small
    assert P.grid_count(600) == 2
    assert P.grid_counts(971) == [3, 2]  # 323.7 a grid is nearer 400 than 485.5
    assert P.grid_counts(960) == [2, 3]  # 480 and 320 are equally far: the smaller k first
    for total in range(300, 5000, 7):
        for k in P.grid_counts(total):
            assert k * 300 <= total <= k * 500


def test_contiguity_graph_stays_inside_groups_and_connects_each():
    ids, x, y, hh, groups, polys = make_groups([40, 30], seed=1)
    x[5] = x[4] + 1000  # not adjacent by distance: only the spanning tree links it
    x[5] = min(x[5], SIDE - 1)
    graph = P.contiguity_graph(x, y, groups, max_edge=80.0)
    assert (graph != graph.T).nnz == 0
    rows, cols = graph.nonzero()
    assert (groups[rows] == groups[cols]).all()
    for key in polys:
        members = np.flatnonzero(groups == key)
        assert connected_components(graph[members][:, members], directed=False)[0] == 1
    loose = P.contiguity_graph(x, y, groups, max_edge=80.0, spanning_tree=False)
    r, c = loose.nonzero()
    assert (np.hypot(x[r] - x[c], y[r] - y[c]) <= 80.0).all()


def test_cells_tile_the_group_even_with_duplicate_points():
    ids, x, y, hh, groups, polys = make_groups([25], seed=2)
    x[3], y[3] = x[2], y[2]  # two buildings at the same point
    x[4], y[4] = x[2], y[2]
    cells = P.building_cells(x, y, groups, polys)
    assert all(not c.is_empty for c in cells)
    assert abs(sum(c.area for c in cells) - polys["G0"].area) < 1e-6 * polys["G0"].area
    assert shapely.union_all(list(cells)).symmetric_difference(polys["G0"]).area < 1e-6 * polys["G0"].area


def test_redivide_meets_every_goal_on_a_plain_community():
    ids, x, y, hh, groups, polys = make_groups([150, 120], seed=3)
    r, graph = run(ids, x, y, hh, groups, polys, max_edge=200.0)
    assert check_partition(r, x, y, hh, groups, polys, graph) == {"G0", "G1"}
    assert not r.infeasible and not r.oversize
    assert r.within_bounds.all()
    pp = P.polsby_popper(r.polygons)
    assert pp.mean() >= 0.6 and pp.min() >= 0.3
    assert np.allclose(P.polsby_popper(P.grid_polygons(P.building_cells(x, y, groups, polys), r.labels)), pp)


def test_buildings_need_not_come_in_group_order():
    """Buildings of several groups interleaved (as a query ordered by building code gives them): every
    group is still split within bounds, none is reported as cut into pieces."""
    ids, x, y, hh, groups, polys = make_groups([150, 120, 90], seed=5)
    order = np.argsort(np.arange(len(ids)) % 7, kind="stable")  # interleave the groups
    r, graph = run(ids[order], x[order], y[order], hh[order], groups[order], polys, max_edge=200.0)
    assert check_partition(r, x[order], y[order], hh[order], groups[order], polys, graph) == {
        "G0",
        "G1",
        "G2",
    }
    assert not r.infeasible and r.within_bounds.all()


def test_same_input_same_output():
    ids, x, y, hh, groups, polys = make_groups([90, 60], seed=4)
    a, _ = run(ids, x, y, hh, groups, polys)
    b, _ = run(ids, x, y, hh, groups, polys)
    assert np.array_equal(a.labels, b.labels)
    assert [p.wkb for p in a.polygons] == [p.wkb for p in b.polygons]
    assert a.infeasible == b.infeasible and a.grid_codes == b.grid_codes


def test_oversize_building_is_its_own_grid_and_reported():
    ids, x, y, hh, groups, polys = make_groups([80], seed=5)
    hh[10] = 650
    r, graph = run(ids, x, y, hh, groups, polys, max_edge=250.0)
    check_partition(r, x, y, hh, groups, polys, graph)
    assert [(o.building, o.households) for o in r.oversize] == [(10, 650)]
    grid = r.oversize[0].grid
    assert r.labels[10] == grid and (r.labels == grid).sum() == 1
    rest = [g for g in range(r.grids) if g != grid]
    assert all(300 <= r.grid_households[g] <= 500 for g in rest) or r.infeasible


@pytest.mark.parametrize(
    ("households", "reason"),
    [([50] * 5, "below_minimum"), ([55] * 10, "no_grid_count"), ([200, 200, 200], "granularity")],
)
def test_groups_that_cannot_be_split_are_reported(households, reason):
    n = len(households)
    x = np.linspace(50, 550, n)
    y = np.full(n, 300.0) + np.arange(n) % 2  # a chain: every building next to the next one only
    groups = np.asarray(["A"] * n)
    polys = {"A": shapely.box(0, 0, 600, 600)}
    r, graph = run(np.arange(n), x, y, np.asarray(households), groups, polys)
    check_partition(r, x, y, np.asarray(households), groups, polys, graph)
    assert [(i.group, i.reason, i.households) for i in r.infeasible] == [("A", reason, sum(households))]
    if reason == "granularity":  # the middle building of the chain: 200 + 200 + 200 must share one grid
        assert (r.infeasible[0].building, r.infeasible[0].must_share, r.infeasible[0].behind) == (1, 600, 2)


def test_a_group_with_no_split_on_the_graph_gets_longer_links_between_touching_cells():
    """A building of 100 households in the middle, three of 250 at 200 m around it, 346 m from each other.
    On the 120 m graph (its spanning tree: a star) every split leaves one grid of 250 households; joining
    two outer buildings, whose cells touch, gives 500 + 350. The longer links are used and reported."""
    angles = np.deg2rad([90.0, 210.0, 330.0])
    x = np.r_[500.0, 500.0 + 200.0 * np.cos(angles)]
    y = np.r_[500.0, 500.0 + 200.0 * np.sin(angles)]
    hh = np.asarray([100, 250, 250, 250])
    groups = np.asarray(["A"] * 4)
    polys = {"A": shapely.box(0, 0, 1000, 1000)}
    strict, graph = run(np.arange(4), x, y, hh, groups, polys, relax=False)
    # proved, not just not found: the three outer buildings can only be reached through the middle one
    assert [(i.reason, i.households, i.building) for i in strict.infeasible] == [("granularity", 850, 0)]
    assert (strict.infeasible[0].must_share, strict.infeasible[0].behind) == (850, 3)
    assert "exists" in strict.infeasible[0].detail and "850 households" in strict.infeasible[0].detail
    assert not strict.relaxed

    r, graph = run(np.arange(4), x, y, hh, groups, polys)
    check_partition(r, x, y, hh, groups, polys, graph)
    assert not r.infeasible and sorted(r.grid_households.tolist()) == [350, 500]
    [item] = r.relaxed
    assert item.group == "A" and item.grids == 1 and item.proved and item.because.building == 0
    assert item.longest_link == pytest.approx(200.0 * np.sqrt(3), rel=1e-6)
    assert item.max_edge >= item.longest_link > P.MAX_EDGE_M
    # the added links join touching cells only, so every grid polygon is in one piece
    assert all(set(pair) <= {1, 2, 3} for pair in item.edges.tolist())
    assert all(p.geom_type == "Polygon" for p in r.polygons)
    again, _ = run(np.arange(4), x, y, hh, groups, polys)
    assert np.array_equal(again.labels, r.labels)


def test_a_part_cut_off_in_the_graph_is_reported_as_such():
    ids, x, y, hh, groups, polys = make_groups([60], seed=6)
    graph = P.contiguity_graph(x, y, groups, max_edge=250.0).tolil()
    far = int(np.argmax(x))  # cut one building off: it alone is below the minimum
    for j in graph.rows[far][:]:
        graph[far, j] = 0
        graph[j, far] = 0
    graph = graph.tocsr()
    graph.eliminate_zeros()
    r = P.redivide(ids, x, y, hh, groups, polys, graph=graph)
    check_partition(r, x, y, hh, groups, polys, graph)
    cut = [i for i in r.infeasible if i.part_of_group]
    assert len(cut) == 1 and cut[0].reason == "below_minimum" and cut[0].buildings == 1


def test_codes_are_kept_for_matching_grids_within_bounds_only():
    ids, x, y, hh, groups, polys = make_groups([150], seed=7)
    first, _ = run(ids, x, y, hh, groups, polys)
    assert first.within_bounds.all()
    codes = np.asarray([f"OLD{g:02d}" for g in first.labels], dtype=object)
    again, _ = run(ids, x, y, hh, groups, polys, codes=codes)
    assert again.grid_codes == [f"OLD{g:02d}" for g in range(again.grids)]
    # Merge two old grids into one of > 500 households: neither new grid may keep that code.
    g0 = first.labels[0]
    other = next(g for g in range(first.grids) if g != g0)
    merged = codes.copy()
    merged[first.labels == other] = f"OLD{g0:02d}"
    assert first.grid_households[g0] + first.grid_households[other] > 500
    r, _ = run(ids, x, y, hh, groups, polys, codes=merged)
    assert f"OLD{g0:02d}" not in r.grid_codes
    assert sum(c is not None for c in r.grid_codes) == r.grids - 2
    # Buildings without an old code, or no codes at all
    r, _ = run(ids, x, y, hh, groups, polys, codes=[None] * len(ids))
    assert r.grid_codes == [None] * r.grids


def test_edge_cases():
    empty = P.redivide([], [], [], [], [], {})
    assert empty.grids == 0 and empty.labels.shape == (0,)
    one = P.redivide([7], [10.0], [10.0], [420], ["A"], {"A": shapely.box(0, 0, 20, 20)})
    assert one.labels.tolist() == [0] and one.grid_households.tolist() == [420] and not one.infeasible
    assert one.polygons[0].equals(shapely.box(0, 0, 20, 20))
    with pytest.raises(ValueError):
        P.redivide([1, 2], [0.0, 1.0], [0.0], [1, 1], ["A", "A"])
    with pytest.raises(ValueError):
        P.redivide([1], [0.0], [0.0], [-1], ["A"])


def test_the_algorithm_needs_no_django():
    code = "import sys, gridgov.territory.partition; print(any(m.startswith('django') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- properties -----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 70), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    big=st.integers(5, 250),
    max_edge=st.sampled_from([60.0, 120.0, 1e9]),
)
def test_properties_hold_for_any_input(sizes, seed, big, max_edge):
    ids, x, y, hh, groups, polys = make_groups(sizes, seed, hh_range=(0, big))
    r, graph = run(ids, x, y, hh, groups, polys, max_edge=max_edge)
    check_partition(r, x, y, hh, groups, polys, graph)
    again, _ = run(ids, x, y, hh, groups, polys, max_edge=max_edge)
    assert np.array_equal(r.labels, again.labels)


def _splits(nodes: list[int], adj: list[set[int]], hh, lo: int, hi: int) -> bool:
    """Whether the buildings can be cut into connected grids of lo–hi households (every set partition)."""
    if not nodes:
        return True
    first, rest = nodes[0], nodes[1:]
    for mask in range(1 << len(rest)):
        grid = [first] + [rest[i] for i in range(len(rest)) if mask >> i & 1]
        if not lo <= sum(hh[i] for i in grid) <= hi:
            continue
        seen, stack = {first}, [first]
        while stack:
            for w in adj[stack.pop()]:
                if w in grid and w not in seen:
                    seen.add(w)
                    stack.append(w)
        if len(seen) == len(grid) and _splits([i for i in rest if i not in grid], adj, hh, lo, hi):
            return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), max_edge=st.sampled_from([80.0, 150.0, 1e9]))
def test_a_proof_of_no_split_is_never_wrong_and_a_split_is_found_when_one_exists(n, seed, max_edge):
    """Against every set partition of up to 8 buildings (50–250 households each) on the graph: a group
    reported as `granularity` has no split, and a reported proof (`building`) is only given then."""
    ids, x, y, hh, groups, polys = make_groups([n], seed, hh_range=(50, 250))
    r, graph = run(ids, x, y, hh, groups, polys, max_edge=max_edge, relax=False)
    check_partition(r, x, y, hh, groups, polys, graph)
    adj = [set(graph.indices[graph.indptr[i] : graph.indptr[i + 1]].tolist()) for i in range(n)]
    exists = _splits(list(range(n)), adj, hh.tolist(), P.LO, P.HI)
    assert exists == (not r.infeasible), (hh.tolist(), [i.detail for i in r.infeasible])
    for issue in r.infeasible:
        if issue.building is not None:
            assert issue.reason == "granularity" and not exists


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(20, 70), min_size=1, max_size=2), seed=st.integers(0, 2**32 - 1))
def test_bounds_are_met_wherever_a_count_of_grids_exists(sizes, seed):
    """Small buildings (≤ 60 households) on a full triangulation: every group whose total admits some k
    with 300k ≤ H ≤ 500k gets grids within bounds; the others are reported with the right reason."""
    ids, x, y, hh, groups, polys = make_groups(sizes, seed, hh_range=(1, 60))
    r, graph = run(ids, x, y, hh, groups, polys, max_edge=1e9)
    ok = check_partition(r, x, y, hh, groups, polys, graph)
    for key in polys:
        total = int(hh[groups == key].sum())
        if P.grid_counts(total):
            assert key in ok, (key, total)
        else:
            reasons = {i.reason for i in r.infeasible if i.group == key}
            assert reasons == {"below_minimum" if total < 300 else "no_grid_count"}
