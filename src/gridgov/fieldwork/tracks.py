"""The track rules, pure (no database): flag points that cannot be real, split the track at gaps, simplify
each segment in metres, and sum up a session. Numbers: docs/fieldwork.md.

A point is (t: epoch seconds, lng, lat: WGS-84, accuracy: metres, mock). Flagged points are kept (in the
raw points and in the session's list of flagged points, for the supervisor) but never drawn and never
counted as walked. A gap (no fix for GAP_SECONDS, or a pause / background interval the phone reported)
splits the track into segments; no distance is counted across a gap."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from gridgov.territory.geo import EARTH_RADIUS_M, haversine_m
from gridgov.territory.partition import LocalPlane

GAP_SECONDS = 120  # no fix for longer than this: a gap
MAX_ACCURACY_M = 50.0  # a fix less accurate than this is flagged
MAX_SPEED_MS = 8.0  # ≈ 29 km/h: faster than walking or cycling in a grid
JUMP_M = 300.0  # a move this far from the last good fix, whatever the time, is a jump
SIMPLIFY_M = 4.8  # Douglas-Peucker tolerance; + rounding to 6 decimals (≤ 0.08 m) stays ≤ 5 m
DECIMALS = 6  # ≈ 0.11 m

FLAGS = ("accuracy", "speed", "jump", "repeat", "mock")


@dataclass(frozen=True)
class Fix:
    t: float
    lng: float
    lat: float
    accuracy: float | None = None
    mock: bool = False


@dataclass
class Gap:
    start: float
    end: float
    reason: str  # no_fix | pause | background

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Track:
    segments: list[list[Fix]] = field(default_factory=list)  # the accepted fixes, split at gaps
    gaps: list[Gap] = field(default_factory=list)
    flagged: list[tuple[Fix, list[str]]] = field(default_factory=list)

    def flag_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(FLAGS, 0)
        for _fix, flags in self.flagged:
            for f in flags:
                counts[f] += 1
        return counts


def _metres(a: Fix, b: Fix) -> float:
    """Great-circle distance of two fixes (the scalar form of geo.haversine_m, for the per-fix loop)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lng - a.lng) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def _breaks_between(breaks: list[tuple[float, float, str]], a: float, b: float) -> str:
    for start, end, reason in breaks:
        if start < b and end > a:
            return reason
    return ""


def build(points: list[Fix], breaks: list[tuple[float, float, str]] | None = None) -> Track:
    """Flag and split the fixes (any order; sorted by time here). `breaks`: (start, end, reason)
    intervals the phone reported as paused or in the background."""
    breaks = sorted(breaks or [])
    track = Track()
    current: list[Fix] = []
    last: Fix | None = None  # the last accepted fix
    last_seen: Fix | None = None  # the last fix of any kind (for repeats and gaps)
    for p in sorted(points, key=lambda f: f.t):
        flags: list[str] = []
        if p.mock:
            flags.append("mock")
        if p.accuracy is not None and p.accuracy > MAX_ACCURACY_M:
            flags.append("accuracy")
        if last_seen is not None and (p.lng, p.lat) == (last_seen.lng, last_seen.lat) and p.t > last_seen.t:
            flags.append("repeat")
        reason = ""
        if last_seen is not None:
            reason = _breaks_between(breaks, last_seen.t, p.t) or (
                "no_fix" if p.t - last_seen.t > GAP_SECONDS else ""
            )
        if reason:
            track.gaps.append(Gap(last_seen.t, p.t, reason))  # type: ignore[union-attr]
            if current:
                track.segments.append(current)
            current = []
            last = None
        if last is not None and not flags:
            d = _metres(last, p)
            dt = p.t - last.t
            if d > JUMP_M:
                flags.append("jump")
            if dt <= 0 or d / dt > MAX_SPEED_MS:
                flags.append("speed")
        last_seen = p
        if flags:
            track.flagged.append((p, flags))
            continue
        current.append(p)
        last = p
    if current:
        track.segments.append(current)
    return track


def plane_for(segments: list[list[Fix]]) -> LocalPlane:
    lngs = [p.lng for s in segments for p in s]
    lats = [p.lat for s in segments for p in s]
    return LocalPlane.around(lngs, lats)


def simplify(
    segment: list[Fix], plane: LocalPlane, tolerance: float = SIMPLIFY_M
) -> list[tuple[float, float]]:
    """The segment's WGS-84 vertices after Douglas-Peucker in metres (max deviation ≤ tolerance), rounded
    to DECIMALS."""
    if len(segment) < 2:
        return [(round(p.lng, DECIMALS), round(p.lat, DECIMALS)) for p in segment]
    x, y = plane.forward([p.lng for p in segment], [p.lat for p in segment])
    line = LineString(np.column_stack([x, y])).simplify(tolerance, preserve_topology=False)
    sx, sy = plane.inverse(*np.asarray(line.coords).T)
    out: list[tuple[float, float]] = []
    for lng, lat in zip(sx.tolist(), sy.tolist(), strict=True):
        v = (round(lng, DECIMALS), round(lat, DECIMALS))
        if not out or out[-1] != v:
            out.append(v)
    return out


def length_m(vertices: list[tuple[float, float]]) -> float:
    if len(vertices) < 2:
        return 0.0
    a = np.asarray(vertices)
    return float(np.sum(haversine_m(a[:-1, 0], a[:-1, 1], a[1:, 0], a[1:, 1])))


def geojson(lines: list[list[tuple[float, float]]]) -> str:
    """The stored track: a GeoJSON MultiLineString, one line per segment (a lone fix repeats itself)."""
    coords = [[list(v) for v in (line if len(line) > 1 else line * 2)] for line in lines if line]
    return json.dumps({"type": "MultiLineString", "coordinates": coords}, separators=(",", ":"))


def lines_of(text: str) -> list[list[tuple[float, float]]]:
    if not text:
        return []
    return [[(c[0], c[1]) for c in line] for line in json.loads(text)["coordinates"]]


def inside_share(segments: list[list[Fix]], area: BaseGeometry | None) -> float | None:
    """The share of the accepted fixes that lie inside the area (by points; None without an area or fixes)."""
    fixes = [p for s in segments for p in s]
    if area is None or not fixes:
        return None
    inside = shapely.contains_xy(area, [p.lng for p in fixes], [p.lat for p in fixes])
    return round(float(np.count_nonzero(inside)) / len(fixes), 4)


@dataclass
class Summary:
    lines: list[list[tuple[float, float]]]
    gaps: list[Gap]
    flagged: list[tuple[Fix, list[str]]]
    distance_m: float
    tracked_s: float
    inside_share: float | None
    raw_count: int
    stored_count: int

    def flag_counts(self) -> dict[str, int]:
        return Track(flagged=self.flagged).flag_counts()


def summarise(
    points: list[Fix], breaks: list[tuple[float, float, str]] | None = None, area: BaseGeometry | None = None
) -> Summary:
    track = build(points, breaks)
    plane = plane_for(track.segments)
    lines = [simplify(s, plane) for s in track.segments]
    return Summary(
        lines=lines,
        gaps=track.gaps,
        flagged=track.flagged,
        distance_m=round(sum(length_m(line) for line in lines), 1),
        tracked_s=float(sum(s[-1].t - s[0].t for s in track.segments)),
        inside_share=inside_share(track.segments, area),
        raw_count=len(points),
        stored_count=sum(len(line) for line in lines),
    )


def hausdorff_m(segment: list[Fix], vertices: list[tuple[float, float]]) -> float:
    """The Hausdorff distance in metres between a segment's fixes and its simplified line (for tests and
    the benchmark)."""
    plane = plane_for([segment])
    raw = LineString(np.column_stack(plane.forward([p.lng for p in segment], [p.lat for p in segment])))
    a = np.asarray(vertices)
    x, y = plane.forward(a[:, 0], a[:, 1])
    simple = LineString(np.column_stack([x, y])) if len(vertices) > 1 else Point(x[0], y[0])
    return float(raw.hausdorff_distance(simple))


def coverage(
    buildings: list[tuple[float, float]], lines: list[list[tuple[float, float]]], radius: float = 30.0
) -> int:
    """How many of the buildings (lng, lat) lie within `radius` metres of some line: one STRtree query
    in a local metric plane."""
    if not buildings or not lines:
        return 0
    b = np.asarray(buildings, dtype=np.float64)
    plane = LocalPlane.around(b[:, 0], b[:, 1])
    geoms = []
    for line in lines:
        a = np.asarray(line, dtype=np.float64)
        x, y = plane.forward(a[:, 0], a[:, 1])
        geoms.append(LineString(np.column_stack([x, y])) if len(line) > 1 else Point(x[0], y[0]))
    bx, by = plane.forward(b[:, 0], b[:, 1])
    tree = shapely.STRtree(geoms)
    hits = tree.query(shapely.points(bx, by), predicate="dwithin", distance=radius)
    return int(np.unique(hits[0]).size)
