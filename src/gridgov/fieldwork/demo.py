"""The field-work part of the demo district: patrols of the last quarter (13 weeks; 4 weeks at the
larger scales, to stay fast) for every grid worker (daily, in their grid) and block chief (weekly, in
their block), walking between the grid's buildings along street-like L-shaped legs at walking pace,
with a few gaps (the phone in the background) and a few flagged fixes (jumps, a mock location). About one
patroller in five falls behind the plan. Each area gets a handful of routes, computed through the real
track rules (tracks.summarise); the sessions reuse them at other times, written in bulk. The demo
stores no raw fixes (they would be purged after FIELDWORK_RAW_DAYS anyway) and reports no findings (the
case figures of the demo stay as they are). Deterministic for a seed."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.core import worktime
from gridgov.fieldwork import tracks
from gridgov.fieldwork.models import (
    Cadence,
    PatrolFinding,
    PatrolPlan,
    PatrolSession,
    SessionStatus,
    TrackBatch,
    TrackPoint,
)
from gridgov.territory import geo
from gridgov.territory.models import Area, Building, Level
from gridgov.territory.partition import LocalPlane

PREFIX = "440309/"
Log = Callable[[str], object]
ROUTES_PER_AREA = 4
SPEED_MS = 1.1
STEP_S = 10
TZ = ZoneInfo("Asia/Shanghai")


def _route(rng: random.Random, buildings: list[tuple[float, float]], metres: float) -> list[tracks.Fix]:
    """A walk from building to building (L-shaped legs, GPS noise of ~3 m) until `metres` are walked,
    one fix every STEP_S seconds from t = 0; sometimes a gap (3–6 minutes in the background) or a bad fix."""
    plane = LocalPlane.around([b[0] for b in buildings], [b[1] for b in buildings])
    bx, by = plane.forward([b[0] for b in buildings], [b[1] for b in buildings])
    here = rng.randrange(len(buildings))
    waypoints = [(float(bx[here]), float(by[here]))]
    walked = 0.0
    while walked < metres:
        nxt = rng.randrange(len(buildings))
        x, y = float(bx[nxt]), float(by[nxt])
        if (x, y) == waypoints[-1]:
            continue
        corner = (x, waypoints[-1][1]) if rng.random() < 0.5 else (waypoints[-1][0], y)
        walked += abs(x - waypoints[-1][0]) + abs(y - waypoints[-1][1])
        waypoints += [corner, (x, y)]
    wp = np.asarray(waypoints)
    legs = np.hypot(*np.diff(wp, axis=0).T)
    along = np.concatenate([[0], np.cumsum(legs)])
    s = np.arange(0, along[-1], SPEED_MS * STEP_S)
    noise = np.random.default_rng(rng.randrange(2**32))
    x = np.interp(s, along, wp[:, 0]) + noise.normal(0, 3, s.size)
    y = np.interp(s, along, wp[:, 1]) + noise.normal(0, 3, s.size)
    lng, lat = plane.inverse(x, y)
    accuracy = np.round(noise.uniform(4, 15, s.size), 1)
    fixes = [
        tracks.Fix(float(i * STEP_S), a, b, c)
        for i, (a, b, c) in enumerate(zip(lng.tolist(), lat.tolist(), accuracy.tolist(), strict=True))
    ]
    n = len(fixes)
    if n > 60 and rng.random() < 0.3:  # the phone in the background for 3–6 minutes: no fixes
        cut = rng.randrange(20, n - 40)
        del fixes[cut : cut + rng.randint(18, 36)]
    if n > 30 and rng.random() < 0.3:  # a network fix ~1 km off
        k = rng.randrange(5, len(fixes) - 5)
        f = fixes[k]
        fixes[k] = tracks.Fix(f.t, f.lng + 0.01, f.lat, 900.0)
    if n > 30 and rng.random() < 0.1:
        k = rng.randrange(5, len(fixes) - 5)
        f = fixes[k]
        fixes[k] = tracks.Fix(f.t, f.lng, f.lat, f.accuracy, mock=True)
    return fixes


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()


def generate_fieldwork(*, seed: int, log: Log = print, days: int | None = None) -> dict[str, int]:
    rng = random.Random(f"{seed}-fieldwork")
    grids = Area.objects.filter(path__startswith=PREFIX, level=Level.GRID).count()
    days = days or (91 if grids <= 100 else 28)
    today = dt.date.today()
    first = today - dt.timedelta(days=days)
    members = list(
        Membership.objects.filter(
            area__path__startswith=PREFIX, role__in=[Role.GRID_WORKER, Role.BLOCK_CHIEF]
        )
        .select_related("area")
        .order_by("area__path", "user_id")
    )
    if not members:
        return {"sessions": 0}
    buildings: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for grid_id, _path, lng, lat in Building.objects.filter(grid__path__startswith=PREFIX).values_list(
        "grid_id", "grid__path", "lng", "lat"
    ):
        buildings[grid_id].append((lng, lat))
    by_path: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for g in Area.objects.filter(path__startswith=PREFIX, level=Level.GRID).values_list("pk", "path"):
        by_path[g[1]] = buildings.get(g[0], [])
    # One plan row as data: the first block's chief patrols twice a week (the default is weekly).
    first_block = next((m.area for m in members if m.role == Role.BLOCK_CHIEF), None)
    if first_block is not None:
        PatrolPlan.objects.create(
            area=first_block, role=Role.BLOCK_CHIEF, cadence=Cadence.PER_WEEK, per_week=2, min_minutes=60,
            valid_from=first,
        )  # fmt: skip
    sessions: list[PatrolSession] = []
    for m in members:
        area = m.area
        if area is None:
            continue
        if area.level == Level.GRID:
            pts = by_path.get(area.path, [])
        else:
            pts = [b for p, bs in by_path.items() if p.startswith(area.path) for b in bs]
        if len(pts) < 2:
            continue
        shape = geo.parse_geojson(area.geometry) if area.geometry else None
        metres = 2400 if m.role == Role.GRID_WORKER else 4200
        routes = []
        for _ in range(ROUTES_PER_AREA):
            fixes = _route(rng, pts, rng.uniform(0.8, 1.3) * metres)
            routes.append((fixes, tracks.summarise(fixes, [], shape)))
        behind = rng.random() < 0.2
        weekly = m.role == Role.BLOCK_CHIEF
        per_week = 2 if area == first_block else 1
        day = first
        while day < today:
            skip = 0.45 if behind else 0.06
            if weekly:
                go = day.weekday() in ((1,) if per_week == 1 else (1, 3)) and rng.random() > skip
            else:
                go = worktime.is_workday(day) and rng.random() > skip
            if go:
                fixes, s = rng.choice(routes)
                start = dt.datetime(
                    day.year, day.month, day.day, rng.choice([9, 10, 14, 15]), rng.randrange(60), tzinfo=TZ
                )
                t0 = start.timestamp()
                seconds = fixes[-1].t + (rng.randint(2, 8) * 60)
                if rng.random() < 0.05:
                    seconds = rng.randint(8, 20) * 60  # cut short: below the plan's minimum
                sessions.append(
                    PatrolSession(
                        patroller_id=m.user_id, area=area, client_id=f"demo-{m.user_id}-{day.isoformat()}",
                        status=SessionStatus.ENDED, started_at=start, ended_at=start + dt.timedelta(seconds=seconds),
                        track=tracks.geojson(s.lines),
                        gaps=[{"start": _iso(t0 + g.start), "end": _iso(t0 + g.end), "seconds": round(g.seconds), "reason": "background"} for g in s.gaps],
                        flagged=[{"t": _iso(t0 + f.t), "lng": f.lng, "lat": f.lat, "accuracy": f.accuracy, "flags": fl} for f, fl in s.flagged],
                        flag_counts=s.flag_counts(), distance_m=s.distance_m, tracked_s=s.tracked_s,
                        inside_share=s.inside_share, raw_count=s.raw_count, stored_count=s.stored_count,
                        raw_purged=True,
                    )
                )  # fmt: skip
            day += dt.timedelta(days=1)
    PatrolSession.objects.bulk_create(sessions, batch_size=2000)
    log(f"Field work: {len(sessions):,} patrols over {days} days for {len(members):,} patrollers.")
    return {"sessions": len(sessions)}


def delete_fieldwork() -> None:
    """Delete every field-work record of the demo district (before its users and areas)."""
    sessions = PatrolSession.objects.filter(area__path__startswith=PREFIX)
    PatrolFinding.objects.filter(session__in=sessions).delete()
    TrackPoint.objects.filter(session__in=sessions).delete()
    TrackBatch.objects.filter(session__in=sessions).delete()
    sessions.delete()
    PatrolPlan.objects.filter(area__path__startswith=PREFIX).delete()
