"""What the web app's screens read: the to-dos waiting on each user, progress notes, duplicates before
submitting, and figures per area and per department."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from gridgov.cases.models import TimelineEvent
from gridgov.cases.tests.conftest import A1, B1, Api, act, report


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {c["id"] for c in response.json()["items"]}


def test_each_user_sees_the_cases_waiting_on_them(people, world):
    submitted = report(people.resident, category_code="E0102")
    whistled = report(people.resident, category_code="E0102", description="路灯不亮")
    act("accept", whistled, people.staff_a)
    act("whistle", whistled, people.staff_a, departments=["440309-CG"])
    handled = report(people.resident2, category_code="E0102", description="井盖松动")
    act("accept", handled, people.staff_a)
    act("community_handle", handled, people.staff_a)
    act("handle", handled, people.staff_a, note="已加固")
    closed = report(people.resident, category_code="E0102", description="垃圾桶破损")
    act("accept", closed, people.staff_a)
    act("community_handle", closed, people.staff_a)
    act("handle", closed, people.staff_a, note="已更换")
    act("verify", closed, people.worker_a1, passed=True)
    act("close", closed, people.staff_a)
    elsewhere = report(people.resident2, point=B1, category_code="E0102", description="B 社区的诉求")

    def todo(user):
        return _ids(Api(user).get("/cases", {"todo": "true"}))

    assert todo(people.staff_a) == {submitted.pk}
    assert todo(people.staff_b) == {elsewhere.pk}
    assert todo(people.dept_cg) == {whistled.pk}
    assert todo(people.dept_ga) == set()
    assert todo(people.worker_a1) == {handled.pk}
    assert todo(people.worker_a2) == set()
    assert todo(people.resident) == {closed.pk}  # to rate
    assert todo(people.resident2) == set()
    assert todo(people.admin) == set()  # the administrators take no business action (三权分立)
    # a suspension to approve waits on the subdistrict
    act("request_suspension", whistled, people.staff_a, reason="等待产权核实")
    assert whistled.pk in todo(people.sub_staff)


def test_deadline_order_and_warning_level(people, world):
    late = report(people.resident, category_code="E0102")
    act("accept", late, people.staff_a)
    soon = report(people.resident, category_code="C0101")  # hours, not days
    act("accept", soon, people.staff_a)
    fresh = report(people.resident, category_code="E0102")
    items = Api(people.staff_a).get("/cases", {"order": "due"}).json()["items"]
    ids = [c["id"] for c in items]
    assert ids.index(soon.pk) < ids.index(late.pk) < ids.index(fresh.pk)  # no deadline last
    assert {c["warning_level"] for c in items} <= {"none", "yellow", "red"}


def test_a_progress_note_changes_nothing_but_the_timeline(people, world):
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    act("report_in", case, people.dept_cg)
    case.refresh_from_db()
    r = Api(people.dept_cg).action(case, "note", note="已联系施工队，明天进场")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "in_progress" and r.json()["version"] == case.version + 1
    event = TimelineEvent.objects.filter(case=case).last()
    assert event.action == "note" and event.note == "已联系施工队，明天进场"
    assert Api(people.dept_cg, language="zh-hans").action(case, "note", note="  ").status_code == 422
    assert Api(people.resident).action(case, "note", note="我也来说两句").status_code == 403


def test_duplicates_before_submitting(people, world):
    first = report(people.resident, category_code="E0102", description="北站路口垃圾堆积好几天了没人清理")
    act("accept", first, people.staff_a)
    body = {"description": "北站路口垃圾堆积没人清理", "lng": A1[0], "lat": A1[1]}
    found = Api(people.staff_a).post("/duplicates-preview", body)
    assert found.status_code == 200, found.content
    assert [d["number"] for d in found.json()] == [first.number]
    assert Api(people.staff_b).post("/duplicates-preview", body).json() == []  # not theirs to see
    assert (
        Api(people.staff_a).post("/duplicates-preview", {"description": "x", "lng": 1.0, "lat": 1.0}).json()
        == []
    )
    assert Api(people.resident).post("/duplicates-preview", body).status_code == 403


def test_figures_per_area_and_per_department(people, world):
    for point in (A1, A1, B1):
        case = report(people.resident, point=point, category_code="E0102")
        act("accept", case, people.staff_a if point == A1 else people.staff_b)
    case = report(people.resident, category_code="E0102")
    act("accept", case, people.staff_a)
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    today = timezone.localdate()
    params = {"date_from": (today - dt.timedelta(days=7)).isoformat(), "date_to": today.isoformat()}
    rows = Api(people.leader).get("/figures/by-area", {**params, "parent": "440309002"}).json()
    by_code = {r["code"]: r for r in rows}
    assert set(by_code) == {"440309002001", "440309002002"}
    assert by_code["440309002001"]["counts"]["reported"] == 3
    assert by_code["440309002002"]["counts"]["reported"] == 1
    # community staff cannot look above their own community
    assert Api(people.staff_a).get("/figures/by-area", {**params, "parent": "440309002"}).status_code == 404
    depts = Api(people.leader).get("/figures/by-department", params).json()
    assert [d["code"] for d in depts] == ["440309-CG"] and depts[0]["counts"]["reported"] == 1
    bad = Api(people.leader).get(
        "/figures/by-area",
        {"date_from": params["date_to"], "date_to": params["date_from"], "parent": "440309002"},
    )
    assert bad.status_code == 422
