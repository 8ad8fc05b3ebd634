"""The phone's writes (idempotent on client ids, batches in any order, GCJ-02 converted), the session's
summary against the raw points, findings as cases, scope, bad input, plan vs done, coverage, export and
the purge of raw points."""

from __future__ import annotations

import datetime as dt
import io
import threading

import openpyxl
import pytest
from django.db import connection

from gridgov.cases.models import Case, Channel
from gridgov.fieldwork import services, tracks
from gridgov.fieldwork.models import PatrolFinding, PatrolPlan, PatrolSession, TrackBatch, TrackPoint
from gridgov.fieldwork.tests.conftest import NOW, Api, walk
from gridgov.territory import geo
from gridgov.testing import assert_problem

START = NOW - dt.timedelta(hours=1)


def start(api, client_id="s-1", **body):
    return api.post("/sessions", {"client_id": client_id, "started_at": START.isoformat(), **body})


def test_a_patrol_from_start_to_end_is_idempotent(people, world):
    api = Api(people.worker_a1)
    r = start(api)
    assert r.status_code == 201
    sid = r.json()["id"]
    assert start(api).status_code == 200 and start(api).json()["id"] == sid  # the retry: the same session
    first = walk(START, 114.002, 22.603, 60)
    assert (
        api.post(
            f"/sessions/{sid}/points",
            {"client_id": "b-2", "points": walk(START + dt.timedelta(minutes=10), 114.005, 22.603, 60)},
        ).status_code
        == 201
    )
    assert (
        api.post(f"/sessions/{sid}/points", {"client_id": "b-1", "points": first}).status_code == 201
    )  # out of order
    again = api.post(f"/sessions/{sid}/points", {"client_id": "b-1", "points": first})
    assert again.status_code == 200 and TrackPoint.objects.filter(session_id=sid).count() == 120
    f = {"client_id": "f-1", "description": "井盖缺失", "lng": 114.0051, "lat": 22.6031}
    r1 = api.post(f"/sessions/{sid}/findings", f)
    r2 = api.post(f"/sessions/{sid}/findings", f)
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json()["case_id"] == r2.json()["case_id"]
    case = Case.objects.get(pk=r1.json()["case_id"])
    assert (
        case.channel == Channel.PATROL and case.grid == world.grid_a1 and PatrolFinding.objects.count() == 1
    )
    end = api.post(f"/sessions/{sid}/end", {"ended_at": (START + dt.timedelta(minutes=25)).isoformat()})
    assert end.status_code == 200 and end.json()["status"] == "ended"
    assert api.post(f"/sessions/{sid}/end", {}).json()["ended_at"] == end.json()["ended_at"]
    body = api.get(f"/sessions/{sid}").json()
    assert body["findings_count"] == 1 and body["findings"][0]["case_number"] == case.number
    assert body["track"]["type"] == "MultiLineString" and body["minutes"] == 25
    assert body["stored_count"] < body["raw_count"] == 120
    assert PatrolSession.objects.count() == 1 and TrackBatch.objects.count() == 2


def test_the_summary_is_what_the_raw_points_say(people, world):
    api = Api(people.worker_a1)
    sid = start(api).json()["id"]
    pts = walk(START, 114.008, 22.605, 40)  # east, crossing from grid A1 into A2 at 114.01
    later = walk(START + dt.timedelta(minutes=20), 114.004, 22.605, 20, dlng=0, dlat=0.00005)  # after a gap
    pts[7]["mock"] = True
    api.post(f"/sessions/{sid}/points", {"client_id": "b", "points": pts + later})
    s = PatrolSession.objects.get(pk=sid)
    raw = list(TrackPoint.objects.filter(session=s).order_by("t"))
    fixes = [tracks.Fix(p.t.timestamp(), p.lng, p.lat, p.accuracy, p.mock) for p in raw]
    again = tracks.summarise(fixes, [], geo.parse_geojson(world.grid_a1.geometry))
    assert (s.distance_m, s.inside_share, s.stored_count) == (
        again.distance_m,
        again.inside_share,
        again.stored_count,
    )
    good = [p for p in raw if not p.mock]
    first, second = good[:39], good[39:]
    walked = sum(
        float(geo.haversine_m(a.lng, a.lat, b.lng, b.lat))
        for seg in (first, second)
        for a, b in zip(seg, seg[1:], strict=False)
    )
    assert abs(s.distance_m - walked) < 5
    inside = sum(1 for p in good if p.lng < 114.01) / len(good)
    assert s.inside_share == pytest.approx(inside, abs=1e-4)
    assert s.flag_counts["mock"] == 1 and len(s.gaps) == 1 and s.gaps[0]["reason"] == "no_fix"


def test_gcj02_points_are_stored_in_wgs84(people):
    api = Api(people.worker_a1)
    sid = start(api).json()["id"]
    glng, glat = geo.wgs84_to_gcj02(114.005, 22.605)
    pt = {"t": START.isoformat(), "lng": float(glng), "lat": float(glat), "crs": "gcj02"}
    api.post(f"/sessions/{sid}/points", {"client_id": "b", "points": [pt]})
    p = TrackPoint.objects.get()
    assert p.crs == "gcj02" and float(geo.haversine_m(p.lng, p.lat, 114.005, 22.605)) < 0.01


def test_bad_input_is_refused_in_chinese_and_changes_nothing(people):
    api = Api(people.worker_a1, language="zh-hans")
    sid = start(api).json()["id"]
    late = walk(NOW + dt.timedelta(hours=2), 114.005, 22.605, 2)
    r = api.post(f"/sessions/{sid}/points", {"client_id": "b", "points": late})
    assert_problem(r, 422)
    assert "巡查" in r.json()["errors"][0]["message"] and TrackPoint.objects.count() == 0
    r = api.post("/sessions", {"client_id": "x", "area_code": "440309002002001"})
    assert_problem(r, 422)
    assert "区域" in r.json()["errors"][0]["message"]
    assert_problem(api.post(f"/sessions/{sid}/points", {"client_id": "", "points": []}), 422)
    assert_problem(api.post(f"/sessions/{sid}/findings", {"client_id": "f", "description": " "}), 422)
    assert (
        PatrolSession.objects.count() == 1 and TrackBatch.objects.count() == 0 and Case.objects.count() == 0
    )


def test_scope(people, world):
    sid = start(Api(people.worker_a1)).json()["id"]
    services.end_session(actor=people.worker_a1, session_id=sid)
    assert Api(people.staff_a).get(f"/sessions/{sid}").status_code == 200
    assert Api(people.sub_staff).get(f"/sessions/{sid}").status_code == 200
    assert_problem(Api(people.staff_b).get(f"/sessions/{sid}"), 404)
    assert_problem(Api(people.worker_a2).get(f"/sessions/{sid}"), 404)  # another grid
    assert_problem(
        Api(people.worker_b1).post(
            f"/sessions/{sid}/points", {"client_id": "b", "points": walk(START, 114.0, 22.6, 1)}
        ),
        404,
    )
    assert Api(people.staff_b).get("/sessions").json()["count"] == 0
    assert_problem(Api(people.staff_b).get("/plan-vs-done", {"area": world.comm_a.code}), 404)
    rows = Api(people.worker_a2).get("/plan-vs-done").json()
    assert {r["area_code"] for r in rows} == {world.grid_a2.code}
    staff_rows = Api(people.staff_a).get("/plan-vs-done").json()
    assert {r["area_code"] for r in staff_rows} == {
        world.grid_a1.code,
        world.grid_a2.code,
        world.block_a.code,
    }


def _session(user, area, day: dt.date, minutes: int, hour: int = 1) -> PatrolSession:
    at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)
    return PatrolSession.objects.create(
        patroller=user, area=area, client_id=f"{day}-{hour}", status="ended", started_at=at,
        ended_at=at + dt.timedelta(minutes=minutes),
    )  # fmt: skip


def test_plan_vs_done_across_a_week_boundary(people, world):
    api = Api(people.staff_a)
    r = api.post(
        "/plans",
        {
            "area_code": world.block_a.code,
            "role": "block_chief",
            "cadence": "per_week",
            "per_week": 2,
            "min_minutes": 45,
            "valid_from": "2026-11-01",
        },
    )
    assert r.status_code == 201
    # Thursday 26 Nov … Wednesday 2 Dec: two ISO weeks, 2 patrols planned in each
    _session(people.chief_a, world.block_a, dt.date(2026, 11, 26), 60)
    _session(people.chief_a, world.block_a, dt.date(2026, 11, 27), 50)
    _session(people.chief_a, world.block_a, dt.date(2026, 11, 28), 70)  # a third in week 1: not counted
    _session(people.chief_a, world.block_a, dt.date(2026, 11, 30), 30)  # too short
    _session(people.chief_a, world.block_a, dt.date(2026, 12, 2), 45)
    rows = api.get(
        "/plan-vs-done", {"date_from": "2026-11-26", "date_to": "2026-12-02", "area": world.block_a.code}
    ).json()
    chief = next(r for r in rows if r["role"] == "block_chief")
    assert (chief["patrols_planned"], chief["patrols_done"], chief["days_done"], chief["behind"]) == (
        4,
        3,
        4,
        True,
    )
    assert chief["hours_done"] == round((60 + 50 + 70 + 30 + 45) / 60, 1)
    # grid worker A1: daily by default, 30 minutes; Mon 30 Nov and Tue 1 Dec done, the others not
    _session(people.worker_a1, world.grid_a1, dt.date(2026, 11, 30), 40)
    _session(people.worker_a1, world.grid_a1, dt.date(2026, 12, 1), 35)
    rows = api.get("/plan-vs-done", {"date_from": "2026-11-30", "date_to": "2026-12-04"}).json()
    w = next(r for r in rows if r["user_id"] == people.worker_a1.pk)
    assert (w["cadence"], w["patrols_planned"], w["patrols_done"]) == ("daily", 5, 2)
    overdue = {(o["user_id"], o["area_code"]) for o in api.get("/overdue").json()}
    assert (people.worker_a1.pk, world.grid_a1.code) in overdue  # nothing on Thursday 3 Dec
    export = api.get(
        "/plan-vs-done/export",
        {"date_from": "2026-11-30", "date_to": "2026-12-04"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    table = list(book.active.iter_rows(values_only=True))
    assert table[0][:2] == ("人员", "角色") and len(table) == 1 + len(rows)
    a1 = next(row for row in table if row[2] == world.grid_a1.code)
    assert a1[1] == "网格员" and a1[5:7] == ("5", "2") and a1[-1] == "是"
    assert_problem(
        Api(people.worker_a1).post(
            "/plans",
            {
                "area_code": world.grid_a1.code,
                "role": "grid_worker",
                "cadence": "daily",
                "valid_from": "2026-11-01",
            },
        ),
        403,
    )
    assert_problem(
        Api(people.staff_b).post(
            "/plans",
            {
                "area_code": world.grid_a1.code,
                "role": "grid_worker",
                "cadence": "daily",
                "valid_from": "2026-11-01",
            },
        ),
        422,
    )
    assert PatrolPlan.objects.count() == 1


def test_coverage_per_grid_and_week(people, world):
    api = Api(people.worker_a1)
    sid = start(api).json()["id"]
    b = world.grid_a1.buildings.order_by("code")[0]
    pts = [
        {
            "t": (START + dt.timedelta(seconds=10 * i)).isoformat(),
            "lng": b.lng + (i - 5) * 0.00004,
            "lat": b.lat + 0.0001,
            "accuracy": 5,
        }
        for i in range(11)
    ]
    api.post(f"/sessions/{sid}/points", {"client_id": "b", "points": pts})
    rows = {r["area_code"]: r for r in Api(people.staff_a).get("/coverage", {"week": "2026-12-02"}).json()}
    a1 = rows[world.grid_a1.code]
    others = [
        x for x in world.grid_a1.buildings.all() if float(geo.haversine_m(x.lng, x.lat, b.lng, b.lat)) > 60
    ]
    assert (
        a1["covered"] == a1["buildings"] - len(others)
        and a1["covered"] >= 1
        and rows[world.grid_a2.code]["covered"] == 0
    )
    assert Api(people.staff_a).get("/coverage", {"week": "2026-12-09"}).json()[0]["covered"] == 0


def test_raw_points_are_purged_after_the_retention(people, settings):
    settings.FIELDWORK_RAW_DAYS = 30
    api = Api(people.worker_a1)
    sid = start(api).json()["id"]
    api.post(f"/sessions/{sid}/points", {"client_id": "b", "points": walk(START, 114.005, 22.605, 10)})
    api.post(f"/sessions/{sid}/end", {})
    assert services.purge_raw(now=NOW + dt.timedelta(days=29))["points"] == 0
    assert services.purge_raw(now=NOW + dt.timedelta(days=31)) == {"sessions": 1, "points": 10}
    s = PatrolSession.objects.get(pk=sid)
    assert s.raw_purged and s.track and s.distance_m > 0 and TrackPoint.objects.count() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_batches_lose_no_points(people):
    session, _ = services.start_session(actor=people.worker_a1, client_id="c", started_at=START)
    errors = []

    def send(k: int) -> None:
        from django.db import connection as conn

        try:
            pts = walk(START + dt.timedelta(minutes=k), 114.003 + k * 0.0001, 22.605, 6)
            parsed = [{**p, "t": dt.datetime.fromisoformat(p["t"])} for p in pts]
            services.add_points(
                actor=people.worker_a1, session_id=session.pk, client_id=f"b{k}", points=parsed
            )
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=send, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    session.refresh_from_db()
    assert TrackPoint.objects.filter(session=session).count() == 36 == session.raw_count


def test_plans_are_edited_by_community_staff_in_their_area(people, world):
    api = Api(people.staff_a, language="zh-hans")
    body = {"area_code": world.grid_a1.code, "role": "grid_worker", "cadence": "per_week", "per_week": 3,
            "min_minutes": 40, "valid_from": "2026-11-01"}  # fmt: skip
    plan = api.post("/plans", body).json()
    changed = api.patch(f"/plans/{plan['id']}", {"min_minutes": 50, "cadence": None})
    assert changed.status_code == 200 and (changed.json()["min_minutes"], changed.json()["cadence"]) == (
        50,
        "per_week",
    )
    bad = api.patch(f"/plans/{plan['id']}", {"valid_to": "2026-10-01"})
    assert_problem(bad, 422)
    assert bad.json()["errors"][0]["message"] == "结束时间早于开始时间。"
    assert PatrolPlan.objects.get().valid_to is None
    rows = (
        Api(people.worker_a1)
        .get("/plan-vs-done", {"date_from": "2026-11-30", "date_to": "2026-12-04"})
        .json()
    )
    assert [(r["cadence"], r["per_week"], r["patrols_planned"]) for r in rows] == [("per_week", 3, 3)]
    assert [p["id"] for p in Api(people.worker_a1).get("/plans").json()] == [plan["id"]]
    assert Api(people.worker_a2).get("/plans").json() == []  # another grid
    assert_problem(Api(people.staff_b).patch(f"/plans/{plan['id']}", {"min_minutes": 5}), 404)
    long = api.get("/plan-vs-done", {"date_from": "2025-01-01", "date_to": "2026-12-04"})
    assert_problem(long, 422)
    assert "366" in long.json()["errors"][0]["message"]
    assert api.delete(f"/plans/{plan['id']}").status_code == 204
    assert not PatrolPlan.objects.get().is_active and api.get("/plans").json() == []
