"""The other moves: return, reassign, supervise, escalate, suspend/resume, merge, closing types, late
flags; the seeded catalogue; the append-only timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.cases import services, workflow
from gridgov.cases.models import Case, Category, Step, TimelineEvent, WhistleItem
from gridgov.cases.tests.conftest import A2, B1, Api, act, report, step_of
from gridgov.core.errors import Forbidden


def _whistled(people, *depts):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    return act("whistle", case, people.staff_a, departments=list(depts or ["440309-CG"]))


def test_seeded_categories_and_whistle_items(db):
    assert Category.objects.filter(parent__isnull=True).count() == 20
    garbage = Category.objects.get(code="E0102")
    assert (garbage.name, garbage.resolution_limit, garbage.resolution_unit) == ("暴露垃圾", 4, "hours")
    assert garbage.department_code == "440309-CG" and garbage.parent.name == "市容环境"
    assert Category.objects.get(name="私搭乱建").resolution_limit == 7
    assert Category.objects.get(name="邻里纠纷").resolution_unit == "days"
    assert WhistleItem.objects.count() == 21
    assert WhistleItem.objects.values("group").distinct().count() == 3
    before = (Category.objects.count(), WhistleItem.objects.count())
    services.seed_categories()
    assert (Category.objects.count(), WhistleItem.objects.count()) == before


def test_category_and_whistle_endpoints(people):
    api = Api(people.resident)
    tree = api.get("/categories").json()
    city = next(c for c in tree if c["code"] == "E01")
    assert city["kind"] == "event" and "E0102" in [c["code"] for c in city["children"]]
    assert api.get("/categories/E0101").json()["close_condition"]
    assert api.get("/categories/NOPE").status_code == 404
    items = api.get("/whistle-items").json()
    assert len(items) == 21
    assert api.get(f"/whistle-items/{items[0]['id']}").json()["name"] == items[0]["name"]
    assert api.get("/whistle-items/999999").status_code == 404


def test_whistle_item_sets_departments_and_deadlines(people, world):
    item = WhistleItem.objects.get(name="占道经营联合整治")
    case = report(people.resident, category_code="E0501")
    act("accept", case, people.staff_a)
    act("whistle", case, people.staff_a, whistle_item_id=item.pk)
    steps = list(Step.objects.filter(case=case).select_related("target"))
    assert {s.target.code for s in steps} == {"440309-CG", "440309-GA"}  # SJ does not exist here
    for s in steps:
        assert s.whistle_item == item
        assert s.report_in_due_at > s.created_at
        assert s.due_at > s.report_in_due_at


def test_dispatch_to_the_category_department(people, world):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    act("whistle", case, people.staff_a)
    step = Step.objects.get(case=case)
    assert (step.kind, step.target.code) == ("dispatch", "440309-CG")
    case.refresh_from_db()
    assert case.holder_organisation == world.cg


def test_late_report_in_and_handling_are_flagged(people, world):
    case = _whistled(people)
    past = timezone.now() - dt.timedelta(minutes=5)
    Step.objects.filter(case=case).update(report_in_due_at=past, due_at=past)
    act("report_in", case, people.dept_cg)
    act("handle", case, people.dept_cg, note="done")
    step = Step.objects.get(case=case)
    assert step.report_in_on_time is False and step.handled_on_time is False and step.overdue is True


def test_return_brings_the_case_back_to_the_dispatcher(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    act("return", case, people.dept_cg, reason="不属于本部门")
    case.refresh_from_db()
    assert case.status == "whistled"
    act("return", case, people.dept_ga, reason="不属于本部门")
    case.refresh_from_db()
    assert case.status == "accepted"
    assert set(Step.objects.filter(case=case).values_list("status", flat=True)) == {"returned"}
    assert "whistle" in workflow.allowed_actions(case, people.staff_a)


def test_reassign_moves_a_step_to_another_department(people, world):
    case = _whistled(people)
    old = step_of(case, world.cg)
    act("reassign", case, people.staff_a, step_id=old.pk, departments=["440309-XF"])
    old.refresh_from_db()
    assert old.status == "cancelled"
    new = step_of(case, world.xf)
    assert new.status == "pending_report_in" and new.due_at
    assert "report_in" not in workflow.allowed_actions(Case.objects.get(pk=case.pk), people.dept_cg)


def test_supervise_records_the_level_on_open_steps(people, world):
    case = _whistled(people, "440309-CG", "440309-GA")
    Step.objects.filter(case=case).update(report_in_due_at=timezone.now() - dt.timedelta(hours=1))
    act("supervise", case, people.sub_staff, level="red", note="红牌督办")
    assert set(Step.objects.filter(case=case).values_list("supervision", flat=True)) == {"red"}
    case.refresh_from_db()
    assert case.supervision == "red"


def test_escalation_moves_the_holder_up(people, world):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    act("escalate", case, people.staff_a, reason="社区协调不了")
    case.refresh_from_db()
    assert case.holder_area == world.sub
    assert "whistle" not in workflow.allowed_actions(case, people.staff_a)
    assert "whistle" in workflow.allowed_actions(case, people.sub_staff)
    act("escalate", case, people.sub_staff, reason="需要区级协调")
    case.refresh_from_db()
    assert case.holder_area == world.district
    assert "escalate" not in workflow.allowed_actions(case, people.admin)
    assert "whistle" in workflow.allowed_actions(case, people.leader)


def test_suspension_stops_the_clock(people, world):
    case = _whistled(people)
    act("request_suspension", case, people.dept_cg, reason="等待产权核实")
    act("suspend", case, people.sub_staff)
    case.refresh_from_db()
    assert case.suspended and workflow.allowed_actions(case, people.dept_cg) == []
    # Three weeks back: whatever day the test runs, the suspension spans working time (no holiday in
    # the calendar is longer than nine days).
    weeks_ago = timezone.now() - dt.timedelta(days=21)
    Case.objects.filter(pk=case.pk).update(suspended_at=weeks_ago)
    due_before = Step.objects.get(case=case).due_at
    case_due_before = Case.objects.get(pk=case.pk).due_at
    act("resume", case, people.sub_staff)
    case.refresh_from_db()
    step = Step.objects.get(case=case)
    assert not case.suspended and case.suspended_working_seconds > 0
    assert step.due_at > due_before and case.due_at > case_due_before
    assert "report_in" in workflow.allowed_actions(case, people.dept_cg)


def test_merge_closes_the_duplicate_and_keeps_both_reporters(people, world):
    target = report(people.resident2, A2, category_code="E0102")
    act("accept", target, people.staff_a)
    dup = report(people.resident, category_code="E0102")
    act("merge", dup, people.staff_a, target_case_number=target.number)
    dup.refresh_from_db()
    target.refresh_from_db()
    assert (dup.status, dup.closing_type, dup.merged_into_id) == ("closed", "special", target.pk)
    assert [r["case"] for r in target.merged_reporters] == [dup.number]
    assert target.merged_reporters[0]["reporter_id"] == people.resident.pk
    assert TimelineEvent.objects.filter(case=target, action="merge_in").count() == 1
    assert "return_visit" not in workflow.allowed_actions(dup, people.resident)
    other = report(people.resident2, B1)
    act("accept", other, people.staff_b, category_code="E0102")
    third = report(people.resident, category_code="E0102")
    r = Api(people.staff_a).action(third, "merge", target_case_number=other.number)
    assert r.status_code == 422  # another community


def _verified(people):
    case = _whistled(people)
    act("report_in", case, people.dept_cg)
    act("handle", case, people.dept_cg, note="done")
    return act("verify", case, people.worker_a1, passed=True)


def test_closing_types(people, world):
    case = _verified(people)
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    act("close", case, people.staff_a)
    case.refresh_from_db()
    assert case.closing_type == "overdue"

    case = _verified(people)
    with pytest.raises(Forbidden):
        act("close", case, people.staff_a, closing_type="error", reason="误报")
    Case.objects.filter(pk=case.pk).update(holder_area=world.district)  # escalated to the district
    with pytest.raises(Forbidden):  # the administrators take no business action (三权分立)
        act("close", case, people.admin, closing_type="error", reason="误报")
    r = Api(people.leader).action(case, "close", closing_type="error")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    act("close", case, people.leader, closing_type="error", reason="误报")
    case.refresh_from_db()
    assert case.closing_type == "error"


def test_return_visit_recorded_by_staff(people, world):
    case = _verified(people)
    act("close", case, people.staff_a)
    act(
        "return_visit",
        case,
        people.staff_a,
        satisfaction=2,
        comment="电话回访：处理太慢",
        visit_method="phone",
    )
    case.refresh_from_db()
    assert (case.status, case.satisfaction) == ("rated", 2)
    assert TimelineEvent.objects.get(case=case, action="return_visit").data["by"] == "staff"


def test_community_handling_and_rework(people, world):
    case = report(people.resident, category_code="G0101")
    act("accept", case, people.staff_a)
    act("community_handle", case, people.staff_a)
    act("handle", case, people.staff_a, note="调解成功")
    act("verify", case, people.worker_a1, passed=False, note="双方仍有争执")
    case.refresh_from_db()
    assert (case.status, case.rework_count) == ("community_handling", 1)


def test_timeline_is_append_only(people, world):
    case = report(people.resident)
    event = TimelineEvent.objects.get(case=case)
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        TimelineEvent.objects.filter(case=case).update(note="x")
    with pytest.raises(PermissionError):
        TimelineEvent.objects.filter(case=case).delete()


def test_table_rows_cover_every_action():
    rows = workflow.table_rows()
    assert [r["action"] for r in rows] == list(workflow.ACTIONS)
    assert all(r["who"] for r in rows)


def test_docs_carry_the_transition_table():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[4] / "docs" / "cases.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("<!-- transition-table -->\n", 1)[1].split("\n<!-- /transition-table -->", 1)[0]
    assert block == workflow.markdown_table()
