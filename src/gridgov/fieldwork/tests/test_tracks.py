"""The pure track rules: gaps, flags, simplification, coverage."""

from __future__ import annotations

import math

import numpy as np
import shapely

from gridgov.fieldwork import tracks
from gridgov.fieldwork.tracks import Fix
from gridgov.territory import geo


def line(
    n: int, t0: float = 0, lng0: float = 114.0, lat0: float = 22.6, step: float = 0.00005, dt: float = 10
):
    return [Fix(t0 + i * dt, lng0 + i * step, lat0, 5.0) for i in range(n)]


def test_a_gap_splits_the_track_and_is_never_walked():
    a = line(10)
    b = line(10, t0=a[-1].t + 600, lng0=114.01)  # 10 minutes without a fix, 1 km further east
    s = tracks.summarise(a + b)
    assert len(s.lines) == 2 and [g.reason for g in s.gaps] == ["no_fix"] and s.gaps[0].seconds == 600
    walked = float(geo.haversine_m(a[0].lng, a[0].lat, a[-1].lng, a[-1].lat)) * 2
    assert math.isclose(s.distance_m, walked, rel_tol=0.01)  # the 1 km between the two is not counted
    assert s.flag_counts() == dict.fromkeys(tracks.FLAGS, 0)


def test_a_reported_pause_is_a_gap_even_when_fixes_are_close():
    a = line(20)
    s = tracks.summarise(a, [(a[9].t + 1, a[10].t - 1, "background")])
    assert [g.reason for g in s.gaps] == ["background"] and len(s.lines) == 2


def test_flags_speed_jump_repeat_mock_and_accuracy_without_dropping():
    pts = line(10)
    pts[3] = Fix(pts[3].t, pts[3].lng + 0.01, pts[3].lat, 5.0)  # ≈ 1 km away for one fix: jump and speed
    pts[5] = Fix(pts[5].t, pts[4].lng, pts[4].lat, 5.0)  # the same fix again
    pts[7] = Fix(pts[7].t, pts[7].lng, pts[7].lat, 120.0)  # poor accuracy
    pts[8] = Fix(pts[8].t, pts[8].lng, pts[8].lat, 5.0, mock=True)
    track = tracks.build(pts)
    flags = {f.t: fl for f, fl in track.flagged}
    assert flags == {30: ["jump", "speed"], 50: ["repeat"], 70: ["accuracy"], 80: ["mock"]}
    assert sum(len(s) for s in track.segments) == 6 and len(track.segments) == 1
    fast = [Fix(0, 114.0, 22.6), Fix(10, 114.001, 22.6)]  # ≈ 103 m in 10 s
    assert tracks.build(fast).flagged[0][1] == ["speed"]


def test_simplification_stays_within_5_m_and_shrinks_the_track():
    rng = np.random.default_rng(7)
    n = 2000
    t = np.arange(n) * 5.0
    # a wandering walk along streets: straight runs with GPS noise of ±2 m and turns every 200 fixes
    heading = np.repeat(rng.choice([0, math.pi / 2, math.pi, -math.pi / 2], n // 200), 200)
    x = np.cumsum(1.2 * 5 * np.cos(heading)) + rng.normal(0, 2, n)
    y = np.cumsum(1.2 * 5 * np.sin(heading)) + rng.normal(0, 2, n)
    plane = tracks.LocalPlane(114.03, 22.65)
    lng, lat = plane.inverse(x, y)
    fixes = [Fix(float(a), float(b), float(c), 5.0) for a, b, c in zip(t, lng, lat, strict=True)]
    s = tracks.summarise(fixes)
    assert len(s.lines) == 1
    assert tracks.hausdorff_m(fixes, s.lines[0]) <= 5.0
    assert s.stored_count <= s.raw_count / 5, (s.stored_count, s.raw_count)


def test_coverage_matches_a_per_building_loop():
    rng = np.random.default_rng(3)
    buildings = [(114.0 + rng.uniform(0, 0.01), 22.6 + rng.uniform(0, 0.01)) for _ in range(300)]
    lines = [[(114.0 + i * 0.001, 22.6 + rng.uniform(0, 0.01)) for i in range(11)] for _ in range(4)]
    lines.append([(114.005, 22.605)])  # a lone fix
    fast = tracks.coverage(buildings, lines)
    plane = tracks.LocalPlane.around([b[0] for b in buildings], [b[1] for b in buildings])

    def local(g):
        return shapely.transform(g, lambda c: np.column_stack(plane.forward(c[:, 0], c[:, 1])))

    geoms = [local(shapely.LineString(ln) if len(ln) > 1 else shapely.Point(ln[0])) for ln in lines]
    naive = sum(1 for b in buildings if any(local(shapely.Point(b)).distance(g) <= 30 for g in geoms))
    assert fast == naive and 0 < fast < len(buildings)
