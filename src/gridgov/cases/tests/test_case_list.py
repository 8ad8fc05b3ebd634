"""The case list as the phone's department tasks need it (one request a page, a bounded number of queries),
the export in the list's order with the list's filters, and the phone search that finds a case by the
reporters of the cases merged into it."""

from __future__ import annotations

import datetime as dt
import io

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from gridgov.cases.models import Case
from gridgov.cases.tests.conftest import A1, A2, B1, Api, act, report
from gridgov.core import keyset
from gridgov.registry.models import PiiAccessLog

PHONE = "13912345678"
OTHER = "13698765432"


def _whistled(people, department="440309-CG", description="人行道井盖破损") -> Case:
    case = report(people.resident, description=description)
    act("accept", case, people.staff_a, category_code="E0101")
    act("whistle", case, people.staff_a, departments=[department])
    return case


def _tasks(user, **params):
    """The department's phone task list: its to-dos, deadline first, with the actions (one request)."""
    r = Api(user).get("/cases", {"todo": True, "order": "due", "actions": True, "page_size": 20, **params})
    assert r.status_code == 200, r.content
    return r.json()


def _queries(user) -> int:
    _tasks(user)  # the same request just before: per-process caches and once-a-while writes are done
    with CaptureQueriesContext(connection) as ctx:
        _tasks(user)
    return len(ctx.captured_queries)


# --- 1. the department's tasks in one request ---------------------------------------------------------
def test_the_task_list_carries_the_departments_own_step_and_actions(people, world):
    waiting = _whistled(people, description="井盖破损待报到")
    working = _whistled(people, description="路灯不亮已报到")
    act("report_in", working, people.dept_cg)
    reworked = _whistled(people, description="垃圾清运不彻底")
    act("report_in", reworked, people.dept_cg)
    act("handle", reworked, people.dept_cg, note="已清运")
    act("verify", reworked, people.worker_a1, passed=False, note="仍有垃圾")
    _whistled(people, department="440309-GA", description="别的部门的事")
    body = _tasks(people.dept_cg)
    rows = {row["number"]: row for row in body["items"]}
    assert set(rows) == {waiting.number, working.number, reworked.number}
    again = rows[reworked.number]
    assert again["own_step_status"] == "in_progress" and "handle" in again["allowed_actions"]
    first, second = rows[waiting.number], rows[working.number]
    step = Api(people.dept_cg).get(f"/cases/{waiting.pk}").json()["steps"][0]
    assert first["own_step_status"] == "pending_report_in" and first["own_step_kind"] == "report_in"
    assert first["own_step_report_in_due_at"] == step["report_in_due_at"] == first["own_step_due_at"]
    assert "report_in" in first["allowed_actions"] and "handle" not in first["allowed_actions"]
    assert second["own_step_status"] == "reported_in" and second["own_step_kind"] == "handle"
    assert "handle" in second["allowed_actions"] and "report_in" not in second["allowed_actions"]
    # the actions are those of the case's detail
    detail = Api(people.dept_cg).get(f"/cases/{working.pk}").json()
    assert second["allowed_actions"] == detail["allowed_actions"]
    # without asking for them the list carries no actions; other roles get no own step
    plain = Api(people.dept_cg).get("/cases", {"todo": True}).json()["items"]
    assert {row["allowed_actions"] is None for row in plain} == {True}
    staff = Api(people.staff_a).get("/cases", {"actions": True}).json()["items"]
    assert {row["own_step_status"] for row in staff} == {None}
    assert all("whistle" not in row["allowed_actions"] for row in staff)  # all three are whistled already


def test_the_task_list_costs_the_same_queries_for_one_case_and_thirty(people, world):
    _whistled(people)
    one = _queries(people.dept_cg)
    for i in range(29):
        _whistled(people, description=f"井盖破损 第{i}处")
    assert len(_tasks(people.dept_cg)["items"]) == 20
    assert _queries(people.dept_cg) == one


# --- 2. the export follows the list's filters and order ------------------------------------------------
def _exported(user, params) -> list[str]:
    r = Api(user).get("/cases/export", params)
    assert r.status_code == 200, r.content[:500]
    ws = load_workbook(io.BytesIO(b"".join(r.streaming_content) if r.streaming else r.content)).active
    return [row[0].value for row in ws.iter_rows(min_row=2)]


def test_the_export_comes_in_the_lists_order(people, world, monkeypatch):
    cases = [report(people.resident, description=f"共享单车乱停放 第{i}处") for i in range(9)]
    report(people.resident, description="别的事情")
    now = timezone.now()
    # ties in created_at and due_at, and cases without a deadline, across the export's chunks
    same = now - dt.timedelta(days=3)
    dues = [None, now + dt.timedelta(days=2), None, now + dt.timedelta(days=1), now + dt.timedelta(days=2)]
    for i, case in enumerate(cases):
        Case.objects.filter(pk=case.pk).update(
            created_at=same if i % 2 else now - dt.timedelta(hours=i), due_at=dues[i % len(dues)]
        )
    monkeypatch.setattr(keyset, "CHUNK", 2)
    api = Api(people.staff_a)
    for order in ("due", "created"):
        params = {"q": "共享单车", "order": order}
        listed = [row["number"] for row in api.get("/cases", {**params, "page_size": 100}).json()["items"]]
        assert len(listed) == 9
        assert _exported(people.staff_a, params) == listed, order
        logged = PiiAccessLog.objects.filter(action="export").latest("id").detail
        assert logged["order"] == order and logged["filters"] == {"q": "共享单车"}  # the log says which list
    due = [row["due_at"] for row in api.get("/cases", {"q": "共享单车", "order": "due"}).json()["items"]]
    assert due[-4:] == [None] * 4 and due[0] is not None  # deadline first, the cases without one last


def test_the_export_takes_every_filter_of_the_list(people, world):
    whistled = _whistled(people)
    report(people.resident)
    params = {"status": ["whistled", "in_progress"], "department": "440309-CG", "order": "due"}
    listed = [row["number"] for row in Api(people.staff_a).get("/cases", params).json()["items"]]
    assert listed == [whistled.number] == _exported(people.staff_a, params)
    mine = {"mine": True}
    assert _exported(people.resident2, mine) == []
    r = Api(people.staff_a, language="zh-hans").get("/cases/export", {"order": "nearest"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("order")


# --- 3. a phone search finds the case a report was merged into -----------------------------------------
def _hotline(user, phone, point=A1):
    body = {
        "description": "楼道灯坏了一个星期", "channel": "hotline", "reporter_name": "王阿姨",
        "reporter_phone": phone, "lng": point[0], "lat": point[1],
    }  # fmt: skip
    r = Api(user).post("/cases", body)
    assert r.status_code == 201, r.content
    return Case.objects.get(pk=r.json()["id"])


def test_a_phone_search_finds_the_case_a_report_was_merged_into(people, world):
    target = _hotline(people.staff_a, PHONE, point=A2)
    act("accept", target, people.staff_a, category_code="E0102")
    dup = _hotline(people.staff_a, OTHER)
    act("merge", dup, people.staff_a, target_case_number=target.number)
    elsewhere = _hotline(people.staff_b, OTHER, point=B1)  # the same caller in community B

    staff = Api(people.staff_a)
    found = staff.get("/cases", {"phone": "136 9876 5432"}).json()["items"]
    assert {row["number"] for row in found} == {target.number, dup.number}
    assert {row["number"] for row in staff.get("/cases", {"phone": PHONE}).json()["items"]} == {target.number}
    assert _exported(people.staff_a, {"phone": OTHER, "order": "due"})[0] == target.number

    # A department that handles the surviving case finds it by the merged caller's phone, and sees no
    # more of the callers than before: masked, the merged case itself out of its sight.
    act("whistle", target, people.staff_a, departments=["440309-CG"])
    r = Api(people.dept_cg).get("/cases", {"phone": OTHER})
    assert [row["number"] for row in r.json()["items"]] == [target.number]
    assert OTHER not in r.content.decode() and PHONE not in r.content.decode()
    assert r.json()["items"][0]["reporter_phone"] == "139****5678"
    # the other community's staff find only their own case; every phone search is logged
    theirs = Api(people.staff_b).get("/cases", {"phone": OTHER}).json()["items"]
    assert [row["number"] for row in theirs] == [elsewhere.number]
    assert PiiAccessLog.objects.filter(action="search", object_type="case").count() == 5
