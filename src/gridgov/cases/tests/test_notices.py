"""The notices people wait for (issue 13, finding 3): every move someone must act on tells them, in the
move's own transaction — and nobody else (another community's staff, other departments, the actor).
Also finding 15 (the administrators take no business action), finding 4 (a failed check needs its
reason), finding 9 (我的上报 lists only one's own reports) and finding 10 (a worker's closed patrol report
is not their to-do)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.accounts.roles import Role
from gridgov.cases import sla, workflow
from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import A1, Api, act, report, step_of
from gridgov.core import notifications
from gridgov.core.errors import Forbidden
from gridgov.core.models import Notification
from gridgov.testing import assert_problem, make_user, snapshot


def told(case: Case, kind: str) -> set[str]:
    return set(notifications.about(case).filter(kind=kind).values_list("recipient__username", flat=True))


def message(case: Case, kind: str, username: str) -> str:
    return notifications.about(case).get(kind=kind, recipient__username=username).message


def _accepted(p) -> Case:
    case = report(p.resident, category_code="E0102")
    return act("accept", case, p.staff_a)


def _whistled(p, *departments: str) -> Case:
    return act("whistle", _accepted(p), p.staff_a, departments=list(departments or ["440309-CG"]))


def _handled(p) -> Case:
    case = _whistled(p)
    act("report_in", case, p.dept_cg)
    return act("handle", case, p.dept_cg, note="已清理")


def _closed(p) -> Case:
    case = _handled(p)
    act("verify", case, p.worker_a1, passed=True)
    return act("close", case, p.staff_a)


def _near_deadline(case: Case) -> Case:
    Step.objects.filter(case=case).update(report_in_due_at=timezone.now() - dt.timedelta(hours=1))
    return case


# --- who gets each notice -----------------------------------------------------------------------------
def test_a_whistle_tells_every_handler_of_each_summoned_department(people, world):
    second_cg = make_user("dept_cg2", Role.DEPARTMENT_HANDLER, organisation=world.cg)
    case = _whistled(people, "440309-CG", "440309-GA")
    assert told(case, "whistle") == {"dept_cg", "dept_cg2", "dept_ga"}
    text = message(case, "whistle", "dept_cg")
    assert case.number in text and "城管局" in text and "报到" in text  # rendered in Chinese
    facts = notifications.about(case).get(kind="whistle", recipient=second_cg).facts
    assert facts["step_id"] == step_of(case, world.cg).pk and facts["report_in_due"]
    # read in English, the same notice is English
    listed = Api(people.dept_cg, language="en").get("/notifications").json()["items"]
    assert [n["kind"] for n in listed] == ["whistle"] and "Report in by" in listed[0]["message"]
    # nobody else: not the dispatcher who whistled, not another community, not the grid worker
    for name in ("staff_a", "staff_b", "worker_a1", "sub_staff", "leader", "admin", "resident"):
        assert not Notification.objects.filter(recipient__username=name, kind="whistle").exists(), name


def test_a_reassignment_tells_the_new_department_only(people, world):
    case = _whistled(people)
    act("reassign", case, people.staff_a, step_id=step_of(case, world.cg).pk, departments=["440309-GA"])
    assert told(case, "whistle") == {"dept_cg", "dept_ga"}  # CG at the whistle, GA at the reassignment
    assert notifications.about(case).filter(kind="whistle", recipient=people.dept_cg).count() == 1


def test_a_yellow_card_reaches_the_department_it_is_against(people, world):
    case = _near_deadline(_whistled(people, "440309-CG", "440309-GA"))
    act("report_in", case, people.dept_ga)
    act("handle", case, people.dept_ga, note="公安已处理")  # GA's step is done: the card is against CG
    act(
        "supervise",
        case,
        people.staff_a,
        level="yellow",
        note="请立即到场",
        step_id=step_of(case, world.cg).pk,
    )
    assert told(case, "supervision") == {"dept_cg"}
    text = message(case, "supervision", "dept_cg")
    assert case.number in text and "黄牌" in text and "请立即到场" in text
    assert notifications.about(case).get(kind="supervision").facts["level"] == "yellow"


def test_a_red_card_without_open_steps_reaches_the_holder(people, world):
    case = act("community_handle", _accepted(people), people.staff_a)
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    act("supervise", case, people.sub_staff, level="red")
    assert told(case, "supervision") == {"staff_a"}  # the community holds it; not staff_b, not CG
    assert "红牌" in message(case, "supervision", "staff_a")


def test_an_escalation_tells_the_new_holder_each_time(people, world):
    case = _accepted(people)
    act("escalate", case, people.staff_a, reason="涉及多个社区")
    assert told(case, "escalation") == {"sub_staff"}
    assert "涉及多个社区" in message(case, "escalation", "sub_staff")
    act("escalate", case, people.sub_staff, reason="需要区级协调")
    assert told(case, "escalation") == {"sub_staff", "leader"}  # the district's leader now holds it
    assert not Notification.objects.filter(recipient__username__in=["staff_a", "staff_b"]).exists()


def test_a_suspension_request_tells_the_subdistrict_that_approves_it(people, world):
    case = _accepted(people)
    act("request_suspension", case, people.staff_a, reason="等待法院判决")
    assert told(case, "suspension") == {"sub_staff"}  # not the leaders above, not another community
    assert "等待法院判决" in message(case, "suspension", "sub_staff")
    act("suspend", case, people.sub_staff)
    assert Notification.objects.filter(kind="suspension").count() == 1


def test_a_return_tells_the_dispatcher_who_sent_it(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    act("return", case, people.dept_cg, reason="不属于本部门职责")
    assert told(case, "returned") == {"staff_a"}
    text = message(case, "returned", "staff_a")
    assert "城管局" in text and "不属于本部门职责" in text
    assert not Notification.objects.filter(
        kind="returned", recipient__username__in=["staff_b", "dept_ga"]
    ).exists()


def test_rework_tells_the_handler_who_must_redo_it(people, world):
    case = _handled(people)
    act("verify", case, people.worker_a1, passed=False, note="路面仍有垃圾")
    assert told(case, "rework") == {"dept_cg"}
    assert "路面仍有垃圾" in message(case, "rework", "dept_cg")
    # handled by the community itself: the community's staff redo it
    own = act("community_handle", _accepted(people), people.staff_a)
    act("handle", own, people.staff_a, note="已调解")
    act("verify", own, people.worker_a1, passed=False, note="双方仍有争执")
    assert told(own, "rework") == {"staff_a"}


def test_an_unsatisfied_rating_tells_the_community_and_opens_a_follow_up(people, world):
    case = _closed(people)
    act("return_visit", case, people.resident, satisfaction=1, comment="垃圾又堆起来了")
    case.refresh_from_db()
    assert (case.status, case.follow_up) == ("rated", "open") and case.follow_up_due_at > timezone.now()
    assert told(case, "unsatisfied") == {"staff_a"}  # not staff_b, not the department, not the resident
    assert "垃圾又堆起来了" in message(case, "unsatisfied", "staff_a")
    visit = TimelineEvent.objects.get(case=case, action="return_visit")
    assert dt.datetime.fromisoformat(visit.data["follow_up_due_at"]) == case.follow_up_due_at

    # the follow-up waits on the community's staff and is an action of theirs only
    staff = Api(people.staff_a, language="zh-hans")
    assert case.pk in {c["id"] for c in staff.get("/cases", {"todo": "true"}).json()["items"]}
    assert "follow_up" in staff.get(f"/cases/{case.pk}").json()["allowed_actions"]
    for other in (people.staff_b, people.admin, people.resident, people.dept_cg, people.worker_a1):
        assert "follow_up" not in workflow.allowed_actions(case, other)
    assert_problem(staff.action(case, "follow_up", note=" "), 422, field="note", language="zh")
    assert Api(people.staff_b).action(case, "follow_up", note="x").status_code == 404
    body = staff.action(case, "follow_up", note="已上门沟通，安排每日清运").json()
    assert body["status"] == "rated" and "follow_up" not in body["allowed_actions"]
    case.refresh_from_db()
    assert case.follow_up == "done"
    assert TimelineEvent.objects.filter(case=case, action="follow_up").get().data == {
        "follow_up_on_time": True
    }
    assert case.pk not in {c["id"] for c in staff.get("/cases", {"todo": "true"}).json()["items"]}


def test_a_satisfied_rating_opens_nothing(people, world):
    case = _closed(people)
    act("return_visit", case, people.resident, satisfaction=4)
    case.refresh_from_db()
    assert case.follow_up == "" and not told(case, "unsatisfied")
    assert "follow_up" not in workflow.allowed_actions(case, people.staff_a)


def test_report_in_due_is_sent_once_per_step_to_the_dispatcher(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    act("report_in", case, people.dept_ga)  # GA is in; CG is not
    late = step_of(case, world.cg).report_in_due_at + dt.timedelta(days=2)
    first = sla.sweep(late)
    second = sla.sweep(late + dt.timedelta(hours=1))
    assert told(case, "report_in_due") == {"staff_a"}
    assert notifications.about(case).filter(kind="report_in_due").count() == 1
    assert second["notifications"] == 0 and first["notifications"] >= 2
    note = notifications.about(case).get(kind="report_in_due")
    assert note.facts["step_id"] == step_of(case, world.cg).pk
    assert "城管局" in note.message and case.number in note.message
    assert not Notification.objects.filter(
        kind="report_in_due", recipient__username__in=["staff_b", "dept_ga"]
    ).exists()


def test_a_refused_move_leaves_no_notice(people, world):
    case = _accepted(people)
    r = Api(people.staff_a).action(case, "whistle", departments=["440309-CG", "NO-SUCH"])
    assert r.status_code == 422
    assert not notifications.about(case).exists()


# --- finding 15: the administrators take no business action --------------------------------------------
def test_the_system_administrator_cannot_handle_a_departments_case(people, world):
    case = _whistled(people)
    act("report_in", case, people.dept_cg)
    case.refresh_from_db()
    before = snapshot(case, Step.objects.filter(case=case))
    admin = Api(people.admin, language="zh-hans")
    assert admin.get(f"/cases/{case.pk}").json()["allowed_actions"] == []
    assert_problem(admin.action(case, "handle", note="管理员代为处置"), 403, language="zh")
    assert snapshot(case, Step.objects.filter(case=case)) == before
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    assert "supervise" in workflow.allowed_actions(Case.objects.get(pk=case.pk), people.staff_a)
    with pytest.raises(Forbidden):
        act("supervise", case, people.admin, level="red")


@pytest.mark.parametrize("stage", ["submitted", "accepted", "whistled", "handled", "verified", "closed"])
def test_the_administrators_are_offered_no_action_at_any_stage(stage, people, world):
    security = make_user("security", Role.SECURITY_ADMIN)
    builders = {
        "submitted": lambda: report(people.resident, category_code="E0102"),
        "accepted": lambda: _accepted(people),
        "whistled": lambda: _whistled(people),
        "handled": lambda: _handled(people),
        "verified": lambda: act("verify", _handled(people), people.worker_a1, passed=True),
        "closed": lambda: _closed(people),
    }
    case = Case.objects.get(pk=builders[stage]().pk)
    assert workflow.allowed_actions(case, people.admin) == []
    assert workflow.allowed_actions(case, security) == []
    assert Api(people.admin).get("/cases", {"todo": "true"}).json()["count"] == 0


def test_the_administrator_cannot_register_a_window_report(people, world):
    r = Api(people.admin, language="zh-hans").post(
        "/cases",
        {"description": "代为登记", "channel": "window", "reporter_name": "张三", "lng": A1[0], "lat": A1[1]},
    )
    assert_problem(r, 422, field="channel", language="zh")


# --- finding 4: a failed check needs its reason -------------------------------------------------------------
def test_a_failed_check_without_a_reason_changes_nothing(people, world):
    case = _handled(people)
    case.refresh_from_db()
    before = snapshot(case, Step.objects.filter(case=case))
    events = TimelineEvent.objects.filter(case=case).count()
    worker = Api(people.worker_a1, language="zh-hans")
    for note in ("", "   "):
        body = assert_problem(
            worker.action(case, "verify", passed=False, note=note), 422, field="note", language="zh"
        )
        assert "返工" in body["errors"][0]["message"] or "原因" in body["errors"][0]["message"]
    assert_problem(worker.action(case, "verify", passed=False), 422, field="note")
    assert snapshot(case, Step.objects.filter(case=case)) == before
    assert TimelineEvent.objects.filter(case=case).count() == events
    assert not told(case, "rework")
    assert worker.action(case, "verify", passed=True).json()["status"] == "verified"  # passing needs none


# --- finding 9: 我的上报; finding 10: a patrol report closed is not the worker's to-do -----------------------
def test_my_reports_lists_only_the_cases_i_reported(people, world):
    own = report(people.resident, category_code="E0102")
    patrol = report(people.worker_a1, category_code="E0102", description="巡查发现井盖缺失")
    window = report(people.staff_a, category_code="E0102", channel="window", reporter_name="李四")
    whistled = _whistled(people)  # reported by the resident, now the department's too

    def mine(user) -> set[int]:
        r = Api(user).get("/cases", {"mine": "true", "page_size": 100})
        assert r.status_code == 200, r.content
        return {c["id"] for c in r.json()["items"]}

    assert mine(people.resident) == {own.pk, whistled.pk}
    assert mine(people.worker_a1) == {patrol.pk}
    assert mine(people.staff_a) == {window.pk}  # registered on someone's behalf
    assert mine(people.dept_cg) == set()  # sees the whistled case, reported none
    assert mine(people.leader) == set() and mine(people.staff_b) == set()


def test_a_closed_patrol_report_is_not_the_grid_workers_to_do(people, world):
    case = report(people.worker_a1, category_code="E0102", description="巡查发现垃圾")
    act("accept", case, people.staff_a)
    act("community_handle", case, people.staff_a)
    act("handle", case, people.staff_a, note="已清理")
    assert case.pk in {c["id"] for c in Api(people.worker_a1).get("/cases", {"todo": "true"}).json()["items"]}
    act("verify", case, people.worker_a1, passed=True)
    act("close", case, people.staff_a)
    assert Api(people.worker_a1).get("/cases", {"todo": "true"}).json()["count"] == 0
    resident_case = _closed(people)  # a resident's own closed report still waits on them
    assert resident_case.pk in {
        c["id"] for c in Api(people.resident).get("/cases", {"todo": "true"}).json()["items"]
    }
