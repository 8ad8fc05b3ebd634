"""Figures recomputed here from the raw timeline and step rows, and compared with figures.py and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.cases import figures
from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import Api, act, report, step_of
from gridgov.core.worktime import working_seconds_between


@pytest.fixture
def history(people, world):
    p = people
    verify = {"passed": True, "note": "现场已整洁"}

    ok = report(p.resident)
    act("accept", ok, p.staff_a, category_code="E0102")
    act("whistle", ok, p.staff_a, departments=["440309-CG"])
    act("report_in", ok, p.dept_cg)
    act("handle", ok, p.dept_cg, note="已清运")
    act("verify", ok, p.worker_a1, **verify)
    act("close", ok, p.staff_a)
    act("return_visit", ok, p.resident, satisfaction=5)

    rework = report(p.resident)
    act("accept", rework, p.staff_a, category_code="E0102")
    act("whistle", rework, p.staff_a, departments=["440309-GA"])
    act("report_in", rework, p.dept_ga)
    act("handle", rework, p.dept_ga, note="已处理")
    act("verify", rework, p.worker_a1, passed=False, note="仍有残留")
    act("handle", rework, p.dept_ga, note="已彻底处理")
    act("verify", rework, p.worker_a1, **verify)
    act("close", rework, p.staff_a)
    act("return_visit", rework, p.resident, satisfaction=3)

    late = report(p.resident)
    act("accept", late, p.staff_a, category_code="E0102")
    act("whistle", late, p.staff_a, departments=["440309-CG", "440309-GA"])
    past = timezone.now() - dt.timedelta(minutes=5)
    Step.objects.filter(pk=step_of(late, world.cg).pk).update(report_in_due_at=past)
    act("report_in", late, p.dept_cg)
    act("report_in", late, p.dept_ga)
    act("handle", late, p.dept_cg, note="已处理")
    act("handle", late, p.dept_ga, note="已处理")
    act("verify", late, p.worker_a1, **verify)
    Case.objects.filter(pk=late.pk).update(due_at=past)
    act("close", late, p.staff_a)

    community = report(p.resident)
    act("accept", community, p.staff_a, category_code="E0102")
    act("community_handle", community, p.staff_a)
    act("handle", community, p.staff_a, note="社区已调解")
    act("verify", community, p.worker_a1, **verify)
    act("close", community, p.staff_a)
    act("return_visit", community, p.resident, satisfaction=4)

    rejected = report(p.resident)
    act("reject", rejected, p.staff_a, reason="不属于受理范围")

    waiting = report(p.resident)
    act("accept", waiting, p.staff_a, category_code="E0102")
    Case.objects.filter(pk=waiting.pk).update(due_at=past)  # open and past its deadline: due, not closed

    report(p.resident)  # submitted only
    return [ok, rework, late, community, rejected, waiting]


def _recompute(case_ids: set[int]) -> dict:
    """The figures from raw TimelineEvent and Step rows, written without figures.py."""
    events = list(TimelineEvent.objects.filter(case_id__in=case_ids).order_by("case_id", "at", "id").values())
    by_case: dict[int, list[dict]] = {}
    for e in events:
        by_case.setdefault(e["case_id"], []).append(e)
    now = timezone.now()
    due_at = dict(Case.objects.filter(pk__in=case_ids).values_list("pk", "due_at"))

    def did(case_id, action):
        return [e for e in by_case[case_id] if e["action"] == action]

    reported = len(case_ids)
    accepted = sum(1 for c in case_ids if did(c, "accept"))
    rejected = sum(1 for c in case_ids if did(c, "reject"))
    closed = [c for c in case_ids if did(c, "close")]
    closed_on_time = sum(1 for c in closed if did(c, "close")[0]["data"]["closing_type"] == "normal")
    due = sum(
        1
        for c in case_ids
        if not did(c, "reject") and (c in closed or (due_at[c] is not None and due_at[c] < now))
    )
    reworked = sum(1 for c in closed if any(e["data"].get("passed") is False for e in did(c, "verify")))
    visits = [e for c in case_ids for e in did(c, "return_visit")]
    rated = len(visits)
    satisfied = sum(1 for e in visits if e["data"]["satisfaction"] >= 4)
    community = sum(1 for c in closed if not did(c, "whistle"))

    report_in_on_time, report_in_seconds = [], []
    handled_on_time: dict[int, bool] = {}
    for c in case_ids:
        whistles = did(c, "whistle")
        for e in did(c, "report_in"):
            report_in_on_time += e["data"]["on_time"]
            for _step in e["data"]["steps"]:
                report_in_seconds.append(working_seconds_between(whistles[-1]["at"], e["at"]))
        for e in did(c, "handle"):
            for step, on_time in zip(e["data"].get("steps", []), e["data"].get("on_time", []), strict=True):
                handled_on_time[step] = on_time
    resolution = [
        working_seconds_between(did(c, "submit")[0]["at"], did(c, "close")[0]["at"]) for c in closed
    ]

    def ratio(a, b):
        return a / b if b else None

    return {
        "counts": {
            "reported": reported,
            "accepted": accepted,
            "rejected": rejected,
            "closed": len(closed),
            "closed_on_time": closed_on_time,
            "due": due,
            "deferred": 0,
            "reworked": reworked,
            "rated": rated,
            "satisfied": satisfied,
            "solved_in_community": community,
            "merged": sum(1 for c in case_ids if did(c, "merge")),
            "closed_listed": sum(1 for c in case_ids if did(c, "close") or did(c, "merge")),
            "reported_in": len(report_in_on_time),
            "reported_in_on_time": sum(report_in_on_time),
            "handled": len(handled_on_time),
            "handled_on_time": sum(handled_on_time.values()),
        },
        "rates": {
            "on_time_close_rate": ratio(closed_on_time, due),
            "close_rate": ratio(len(closed), due),
            "rework_rate": ratio(reworked, len(closed)),
            "on_time_report_in_rate": ratio(sum(report_in_on_time), len(report_in_on_time)),
            "on_time_handling_rate": ratio(sum(handled_on_time.values()), len(handled_on_time)),
            "satisfaction_rate": ratio(satisfied, rated),
            "community_share": ratio(community, len(closed)),
        },
        "mean_report_in_hours": sum(report_in_seconds) / len(report_in_seconds) / 3600,
        "mean_resolution_hours": sum(resolution) / len(resolution) / 3600,
    }


def _same(got: dict, expected: dict) -> None:
    assert got["counts"] == expected["counts"]
    assert got["rates"] == pytest.approx(expected["rates"])
    for name in ("mean_report_in_hours", "mean_resolution_hours"):
        assert got[name] == pytest.approx(expected[name], abs=1e-6)


def test_figures_match_a_recomputation_from_raw_rows(history, people):
    today = timezone.localdate()
    expected = _recompute(set(Case.objects.values_list("pk", flat=True)))
    c = expected["counts"]
    assert (c["reported"], c["accepted"], c["rejected"], c["closed"]) == (7, 5, 1, 4)
    assert (c["closed_on_time"], c["due"], c["reworked"], c["solved_in_community"]) == (3, 5, 1, 1)
    assert (c["rated"], c["satisfied"], c["reported_in"], c["reported_in_on_time"]) == (3, 2, 4, 3)
    assert (c["handled"], c["handled_on_time"]) == (4, 4)

    got = figures.figures_for(people.staff_a, date_from=today, date_to=today)
    _same(got, expected)
    assert got["rates"]["on_time_close_rate"] == pytest.approx(3 / 5)
    for name, change in got["change"].items():
        current = got[name] if name.startswith("mean_") else got["rates"][name]
        assert change == {"current": current, "previous": None, "year_ago": None}
    assert got["previous_period"] == {
        "date_from": today - dt.timedelta(days=1),
        "date_to": today - dt.timedelta(days=1),
    }

    body = Api(people.staff_a).get("/figures", {"date_from": today, "date_to": today})
    assert body.status_code == 200, body.content
    body = body.json()
    _same(body, expected)
    assert body["change"]["close_rate"]["current"] == pytest.approx(expected["rates"]["close_rate"])

    # Only the police's steps and the cases they worked on.
    ga_cases = set(
        Step.objects.filter(target=history[1].steps.first().target).values_list("case_id", flat=True)
    )
    got = figures.figures_for(people.leader, date_from=today, date_to=today, department_code="440309-GA")
    assert got["counts"]["reported"] == len(ga_cases) == 2
    assert got["counts"]["reported_in"] == 2 and got["counts"]["reported_in_on_time"] == 2


def test_scope_and_empty_periods(history, people):
    today = timezone.localdate()
    body = Api(people.staff_b).get("/figures", {"date_from": today, "date_to": today}).json()
    assert set(body["counts"].values()) == {0}
    assert set(body["rates"].values()) == {None}
    assert body["mean_report_in_hours"] is None and body["mean_resolution_hours"] is None

    empty = figures.figures_for(people.admin, date_from=dt.date(2020, 1, 1), date_to=dt.date(2020, 1, 31))
    assert empty["counts"]["reported"] == 0
    assert set(empty["rates"].values()) == {None}
    assert empty["previous_period"] == {"date_from": dt.date(2019, 12, 1), "date_to": dt.date(2019, 12, 31)}
    assert empty["year_ago_period"] == {"date_from": dt.date(2019, 1, 1), "date_to": dt.date(2019, 1, 31)}


def test_bad_periods_are_refused(people):
    api = Api(people.staff_a)
    r = api.get("/figures", {"date_from": "2026-03-02", "date_to": "2026-03-01"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "date_to"
    assert api.get("/figures", {"date_from": "2020-01-01", "date_to": "2023-01-02"}).status_code == 422
    assert api.get("/figures", {"date_from": "2020-01-01", "date_to": "2023-01-01"}).status_code == 200
    assert api.get("/figures", {"date_from": "2020-01-01"}).status_code == 422


def test_the_trend_by_day_and_the_categories_add_up_to_the_figures(history, people):
    """Counted per Asia/Shanghai day in the database: moved across a midnight, a case changes day; the
    days add up to the figures' reported and closed; the 大类 rows too; other communities see nothing."""
    ok, rework, late, community, rejected, waiting = history
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    yesterday = today - dt.timedelta(days=1)
    # 23:30 yesterday and 00:30 today in Shanghai are the same UTC day (15:30 and 16:30 UTC)
    before_midnight = dt.datetime.combine(yesterday, dt.time(23, 30), tzinfo=tz)
    Case.objects.filter(pk=ok.pk).update(
        created_at=before_midnight, closed_at=before_midnight + dt.timedelta(minutes=20)
    )
    Case.objects.filter(pk=rework.pk).update(created_at=before_midnight + dt.timedelta(hours=1))
    params = {"date_from": (today - dt.timedelta(days=2)).isoformat(), "date_to": today.isoformat()}

    body = Api(people.staff_a).get("/figures/by-day", params)
    assert body.status_code == 200, body.content
    days = {d["date"]: (d["reported"], d["closed"]) for d in body.json()}
    assert list(days) == [(today - dt.timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    assert days[yesterday.isoformat()] == (1, 1)  # ok: reported and closed before midnight
    assert days[today.isoformat()] == (6, 3)  # rework (00:30) and five more; rework, late, community closed
    assert days[(today - dt.timedelta(days=2)).isoformat()] == (0, 0)
    totals = Api(people.staff_a).get("/figures", params).json()["counts"]
    assert sum(r for r, _ in days.values()) == totals["reported"] == 7
    assert sum(c for _, c in days.values()) == totals["closed"] == 4

    rows = Api(people.staff_a).get("/figures/by-category", params).json()
    assert rows == [
        {"code": "E01", "name": "市容环境", "reported": 5, "closed": 4},
        {"code": "", "name": "", "reported": 2, "closed": 0},  # rejected and submitted: not classified
    ]
    # A department's own cases only; another community's staff see zeros and no rows.
    ga = Api(people.leader).get("/figures/by-category", {**params, "department": "440309-GA"}).json()
    assert ga == [{"code": "E01", "name": "市容环境", "reported": 2, "closed": 2}]  # rework and late
    other = Api(people.staff_b)
    assert {(d["reported"], d["closed"]) for d in other.get("/figures/by-day", params).json()} == {(0, 0)}
    assert other.get("/figures/by-category", params).json() == []

    bad = Api(people.staff_a).get(
        "/figures/by-day", {"date_from": params["date_to"], "date_to": params["date_from"]}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date_to"
    zh = Api(people.staff_a, language="zh-hans").get(
        "/figures/by-category", {"date_from": "2020-01-01", "date_to": "2023-01-02"}
    )
    assert zh.status_code == 422 and "三年" in zh.json()["detail"]


def test_merged_cases_are_counted_so_closed_agrees_with_the_list(history, people):
    """Issue 13, finding 8: 结案 leaves merged cases out; the figures say how many, and 结案 + merged is
    what the case list shows as closed (recomputed from the raw timeline)."""
    today = timezone.localdate()
    main = history[-1]  # accepted, still open
    for _ in range(2):
        dup = report(people.resident)
        act("merge", dup, people.staff_a, target_case_number=main.number)
    expected = _recompute(set(Case.objects.values_list("pk", flat=True)))
    got = figures.figures_for(people.staff_a, date_from=today, date_to=today)
    _same(got, expected)
    c = got["counts"]
    assert (c["closed"], c["merged"], c["closed_listed"]) == (4, 2, 6)
    listed = Api(people.staff_a).get("/cases", {"status": ["closed", "rated"], "page_size": 100}).json()
    assert listed["count"] == c["closed_listed"] == c["closed"] + c["merged"] + 0  # no closed deferred case
