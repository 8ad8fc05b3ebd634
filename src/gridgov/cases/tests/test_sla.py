"""The deadline watch: yellow at 80 % of the working time, red when overdue, each raised once, with a
timeline event and notifications to the people who must act; deadlines across holidays and 调休
working Saturdays; the notifications API; the periodic task."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from gridgov.accounts.roles import Role
from gridgov.cases import sla
from gridgov.cases.models import Case, Category, Step, TimelineEvent
from gridgov.cases.tasks import sweep_deadlines
from gridgov.cases.tests.conftest import Api, act, make_user, report, step_of
from gridgov.core import notifications, worktime
from gridgov.core.models import Notification

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


class Clock:
    def __init__(self) -> None:
        self.now = timezone.localtime()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


def warnings(case) -> list[dict]:
    return list(
        TimelineEvent.objects.filter(case=case, action="deadline_warning").values_list("data", flat=True)
    )


def told(case, kinds=("deadline_yellow", "deadline_red")) -> set[tuple[str, str]]:
    """Who was told what about the case (the deadline warnings by default)."""
    return set(notifications.about(case).filter(kind__in=kinds).values_list("recipient__username", "kind"))


def warned(case):
    return notifications.about(case).filter(kind__in=("deadline_yellow", "deadline_red"))


def _whistled_at(people, when, clock, *depts, category="E0102") -> Case:
    clock.now = when
    case = report(people.resident, category_code=category)
    act("accept", case, people.staff_a)
    return act("whistle", case, people.staff_a, departments=list(depts or ["440309-CG"]))


def test_report_in_warning_yellow_once_then_red(people, world, clock):
    # E0102 暴露垃圾: report-in 1 working hour, resolution 4 working hours. Tue 2026-03-10 09:00.
    extra_cg = make_user("dept_cg2", Role.DEPARTMENT_HANDLER, organisation=world.cg)
    make_user("staff_a_sub", Role.SUBDISTRICT_STAFF, area=world.sub)
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock, "440309-CG", "440309-GA")
    cg, ga = step_of(case, world.cg), step_of(case, world.ga)
    assert cg.report_in_due_at == at(2026, 3, 10, 10, 0)
    assert cg.due_at == at(2026, 3, 10, 15, 0)
    clock.now = at(2026, 3, 10, 9, 30)
    act("report_in", case, people.dept_ga)  # GA is in: only CG's report-in is watched

    assert sla.sweep(at(2026, 3, 10, 9, 40))["yellow"] == 0  # 67 % used
    counts = sla.sweep(at(2026, 3, 10, 9, 50))  # 83 % used
    assert (counts["yellow"], counts["red"], counts["notifications"]) == (1, 0, 2)
    assert warnings(case) == [
        {
            "level": "yellow",
            "deadline": "report_in",
            "step_id": cg.pk,
            "due_at": cg.report_in_due_at.isoformat(),
        }
    ]
    assert told(case) == {("dept_cg", "deadline_yellow"), ("dept_cg2", "deadline_yellow")}
    cg.refresh_from_db()
    assert (cg.report_in_warning, cg.warning_level, cg.overdue) == ("yellow", "none", False)

    again = sla.sweep(at(2026, 3, 10, 9, 55))
    assert (again["yellow"], again["red"], again["notifications"]) == (0, 0, 0)
    assert len(warnings(case)) == 1 and warned(case).count() == 2

    counts = sla.sweep(at(2026, 3, 10, 10, 5))
    # red: CG's handlers, and the dispatcher who whistled (report_in_due) — not the subdistrict
    assert (counts["yellow"], counts["red"], counts["notifications"]) == (0, 1, 3)
    assert told(case, ["report_in_due"]) == {("staff_a", "report_in_due")}
    event = TimelineEvent.objects.filter(case=case, action="deadline_warning").last()
    assert event.data["level"] == "red" and event.data["deadline"] == "report_in" and event.actor is None
    assert event.at == at(2026, 3, 10, 10, 5) and event.from_status == event.to_status == "in_progress"
    assert event.note  # the rendered message
    cg.refresh_from_db()
    ga.refresh_from_db()
    assert (cg.report_in_warning, cg.overdue) == ("red", True)
    assert (ga.report_in_warning, ga.overdue) == ("none", False)
    assert told(case) == {
        (u, k) for u in ("dept_cg", "dept_cg2") for k in ("deadline_yellow", "deadline_red")
    }
    assert sla.sweep(at(2026, 3, 10, 11, 0))["red"] == 0
    assert extra_cg.notifications.exclude(kind="whistle").count() == 2
    for name in ("dept_ga", "staff_b", "sub_staff", "staff_a_sub", "resident", "admin"):
        assert not Notification.objects.filter(recipient__username=name).exclude(kind="whistle").exists(), (
            name
        )


def test_resolution_warnings_for_steps_and_the_case(people, world, clock):
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    case.refresh_from_db()
    assert case.due_at == at(2026, 3, 10, 15, 0)
    clock.now = at(2026, 3, 10, 9, 10)
    act("report_in", case, people.dept_cg)
    counts = sla.sweep(at(2026, 3, 10, 14, 30))  # 3.5 of 4 working hours used (lunch skipped)
    assert (counts["yellow"], counts["red"]) == (2, 0)
    step = step_of(case, world.cg)
    assert {(d["deadline"], d["step_id"]) for d in warnings(case)} == {
        ("resolution", None),
        ("resolution", step.pk),
    }
    mine = warned(case)
    assert {(n.recipient.username, n.facts["step_id"]) for n in mine} == {
        ("dept_cg", step.pk),
        ("staff_a", None),
    }
    case.refresh_from_db()
    assert case.warning_level == "yellow"
    sla.sweep(at(2026, 3, 11, 9, 0))
    case.refresh_from_db()
    step.refresh_from_db()
    assert (case.warning_level, step.warning_level, step.overdue) == ("red", "red", True)
    assert told(case) == {
        ("dept_cg", "deadline_yellow"),
        ("dept_cg", "deadline_red"),
        ("staff_a", "deadline_yellow"),
        ("staff_a", "deadline_red"),
    }
    assert len(warnings(case)) == 4


def test_closed_suspended_and_handled_work_is_not_watched(people, world, clock):
    done = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    clock.now = at(2026, 3, 10, 9, 10)
    act("report_in", done, people.dept_cg)
    act("handle", done, people.dept_cg, note="已清理")
    paused = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    Case.objects.filter(pk=paused.pk).update(suspended=True)
    counts = sla.sweep(at(2026, 3, 12, 9, 0))
    # `done`: its step is handled, only the case deadline (its status is handled) is watched.
    assert [d["step_id"] for d in warnings(done)] == [None]
    assert warnings(paused) == [] and counts["cases"] == 1


def test_escalated_case_tells_the_holder_too(people, world, clock):
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    act("escalate", case, people.staff_a, reason="需街道协调")
    sla.sweep(at(2026, 3, 10, 14, 30))
    assert {u for u, _ in told(case)} == {"dept_cg", "staff_a", "sub_staff"}


def test_deadlines_across_national_day_and_a_working_saturday(people, world, clock):
    # 2026 国庆: Oct 1–7 off, Saturday Oct 10 a working day.
    Category.objects.filter(code="E0102").update(
        report_in_limit=4, report_in_unit="hours", resolution_limit=2, resolution_unit="days"
    )
    clock.now = at(2026, 9, 30, 10, 0)
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    case.refresh_from_db()
    assert case.due_at == at(2026, 10, 9, 18, 0)  # Oct 8 and Oct 9 are the two working days
    assert case.due_at == worktime.add_working_time(at(2026, 9, 30, 10, 0), 2, "days")

    for day in range(1, 8):  # no working time passes during the holiday
        assert sla.sweep(at(2026, 10, day, 17, 0))["yellow"] == 0
    assert sla.sweep(at(2026, 10, 9, 11, 0))["yellow"] == 0  # 6 + 7 + 2 of 20 h = 75 %
    assert warnings(case) == []
    assert sla.sweep(at(2026, 10, 9, 12, 0))["yellow"] == 1  # 16 of 20 h = 80 %
    assert told(case) == {("staff_a", "deadline_yellow")}

    clock.now = at(2026, 10, 9, 15, 0)
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    step = step_of(case, world.cg)
    assert step.report_in_due_at == at(2026, 10, 10, 10, 0)  # Fri 15–18 + Sat 09–10
    assert step.due_at == at(2026, 10, 12, 18, 0)  # Sat Oct 10 and Mon Oct 12
    assert sla.sweep(at(2026, 10, 9, 17, 0))["yellow"] == 0  # 2 of 4 h
    sla.sweep(at(2026, 10, 10, 9, 30))  # 3.5 of 4 h on the working Saturday
    assert [(d["deadline"], d["level"]) for d in warnings(case) if d["step_id"]] == [("report_in", "yellow")]
    sla.sweep(at(2026, 10, 11, 12, 0))  # Sunday: past the deadline
    step.refresh_from_db()
    assert (step.report_in_warning, step.overdue) == ("red", True)


def test_spring_festival_working_saturdays(people, world, clock):
    # 2026 春节: Feb 15–23 off, Saturdays Feb 14 and Feb 28 working days.
    Category.objects.filter(code="E0102").update(
        report_in_limit=4, report_in_unit="hours", resolution_limit=2, resolution_unit="days"
    )
    case = _whistled_at(people, at(2026, 2, 13, 17, 0), clock)
    step = step_of(case, world.cg)
    assert step.report_in_due_at == at(2026, 2, 14, 12, 0)  # Fri 17–18 + Sat 09–12
    assert step.due_at == at(2026, 2, 24, 18, 0)  # Sat Feb 14 and Tue Feb 24
    sla.sweep(at(2026, 2, 14, 11, 30))  # 3.5 of 4 h
    assert [d["level"] for d in warnings(case) if d["deadline"] == "report_in"] == ["yellow"]
    before = len(warnings(case))
    for day in range(15, 24):  # the holiday: the completion deadline does not move towards red
        sla.sweep(at(2026, 2, day, 10, 0))
    assert [d for d in warnings(case)[before:] if d["deadline"] == "resolution"] == []


def test_notifications_api_own_only_and_mark_read(people, world, clock):
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock, "440309-CG", "440309-GA")
    sla.sweep(at(2026, 3, 10, 9, 50))
    sla.sweep(at(2026, 3, 10, 10, 5))
    clock.now = timezone.localtime()
    mine = Api(people.dept_cg)
    r = mine.get("/notifications")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3  # the whistle, then yellow and red of CG's report-in; GA's step is not theirs
    items = body["items"]
    assert [i["kind"] for i in items] == ["deadline_red", "deadline_yellow", "whistle"]
    assert all(i["case_number"] == case.number and i["read_at"] is None for i in items)
    assert all(i["data"]["step_id"] == step_of(case, world.cg).pk for i in items)
    assert Api(people.dept_ga).get("/notifications").json()["count"] == 3
    assert Api(people.staff_b).get("/notifications").json() == {"items": [], "count": 0}

    first = items[0]["id"]
    assert mine.post(f"/notifications/{first}/read").status_code == 204
    assert mine.post(f"/notifications/{first}/read").status_code == 204  # again: unchanged
    assert mine.get("/notifications", {"unread": "true"}).json()["count"] == 2
    assert [i["id"] for i in mine.get("/notifications", {"unread": "false"}).json()["items"]] == [first]

    theirs = Notification.objects.filter(recipient=people.dept_ga).first()
    r = mine.post(f"/notifications/{theirs.pk}/read")
    assert r.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert mine.post("/notifications/999999999/read").status_code == 404
    assert Api().get("/notifications").status_code == 401
    assert Api().post(f"/notifications/{first}/read").status_code == 401


def test_messages_name_the_case_department_and_deadline(people, world, clock):
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    sla.sweep(at(2026, 3, 10, 10, 5))
    n = notifications.about(case).get(recipient=people.dept_cg, kind="deadline_red")
    assert case.number in n.message and "城管局" in n.message and "2026-03-10 10:00" in n.message


def test_periodic_task_runs_the_sweep(people, world, clock):
    case = _whistled_at(people, at(2026, 3, 10, 9, 0), clock)
    clock.now = at(2026, 3, 10, 10, 5)
    previous = HUEY.immediate
    HUEY.immediate = True
    try:
        sweep_deadlines()  # enqueued and run at once (periodic tasks keep no result)
    finally:
        HUEY.immediate = previous
    assert Step.objects.get(case=case).overdue
    assert [d["level"] for d in warnings(case)] == ["red"]
    assert sweep_deadlines.call_local() == {
        "cases": 1,
        "yellow": 0,
        "red": 0,
        "lowered": 0,
        "notifications": 0,
    }


def test_sweep_reads_candidates_and_recipients_in_bulk(people, world, clock):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cases = [_whistled_at(people, at(2026, 3, 10, 9, 0), clock) for _ in range(4)]
    sla.sweep(at(2026, 3, 10, 9, 1))  # warm the calendar cache
    with CaptureQueriesContext(connection) as quiet:
        assert sla.sweep(at(2026, 3, 10, 9, 5))["cases"] == 4
    assert len(quiet) <= 3  # the cases, their open steps (and at most one calendar check)
    with CaptureQueriesContext(connection) as busy:
        assert sla.sweep(at(2026, 3, 11, 9, 0))["red"] == 4 * 3
    membership = [q for q in busy.captured_queries if "accounts_membership" in q["sql"]]
    assert len(membership) == 1
    assert all(len(warnings(c)) == 3 for c in cases)
