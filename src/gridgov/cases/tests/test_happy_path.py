"""The closed loop end to end through the API: resident → accept → whistle to two departments → both
report in → handle → verify fails (rework) → handle → verify passes → close → return visit 4 stars."""

from __future__ import annotations

from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import A1, Api


def test_closed_loop(people, world):
    resident = Api(people.resident)
    r = resident.post(
        "/cases",
        {"description": "小区门口垃圾堆放多日无人清理", "lng": A1[0], "lat": A1[1], "kind": "demand"},
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    case = Case.objects.get(pk=body["id"])
    assert body["status"] == "submitted" and body["grid_code"] == world.grid_a1.code
    assert body["channel"] == "resident_app" and body["number"].startswith("GG")

    staff = Api(people.staff_a)
    body = staff.action(case, "accept", category_code="E0102", note="受理").json()
    assert body["status"] == "accepted" and body["due_at"] and body["category_code"] == "E0102"

    body = staff.action(case, "whistle", departments=["440309-CG", "440309-GA"]).json()
    assert body["status"] == "whistled"
    assert sorted(s["target_code"] for s in body["steps"]) == ["440309-CG", "440309-GA"]
    assert all(s["status"] == "pending_report_in" and s["report_in_due_at"] for s in body["steps"])

    cg, ga = Api(people.dept_cg), Api(people.dept_ga)
    body = cg.action(case, "report_in").json()
    assert body["status"] == "in_progress"
    body = ga.action(case, "report_in").json()
    steps = {s["target_code"]: s for s in body["steps"]}
    assert all(s["status"] == "reported_in" and s["report_in_on_time"] is True for s in steps.values())

    body = cg.action(case, "handle", note="已清运垃圾").json()
    assert body["status"] == "in_progress"  # the police have not handled their step yet
    assert "verify" not in Api(people.worker_a1).get(f"/cases/{case.pk}").json()["allowed_actions"]
    body = ga.action(case, "handle", note="已约谈责任人").json()
    assert body["status"] == "handled"

    worker = Api(people.worker_a1)
    body = worker.action(case, "verify", passed=False, note="仍有残留").json()
    assert body["status"] == "in_progress" and body["rework_count"] == 1
    assert {s["status"] for s in body["steps"]} == {"in_progress"}
    assert {s["rework_count"] for s in body["steps"]} == {1}

    cg.action(case, "handle", note="已彻底清理")
    body = ga.action(case, "handle", note="已复查").json()
    assert body["status"] == "handled"
    body = worker.action(case, "verify", passed=True, note="现场已整洁").json()
    assert body["status"] == "verified"

    body = staff.action(case, "close").json()
    assert body["status"] == "closed" and body["closing_type"] == "normal"

    body = resident.action(case, "return_visit", satisfaction=4, comment="处理及时").json()
    assert body["status"] == "rated" and body["satisfaction"] == 4

    for s in Step.objects.filter(case=case):
        assert s.status == "handled"
        assert s.report_in_on_time is True and s.handled_on_time is True and s.overdue is False
    actions = list(TimelineEvent.objects.filter(case=case).values_list("action", "from_status", "to_status"))
    assert actions == [
        ("submit", "", "submitted"),
        ("accept", "submitted", "accepted"),
        ("whistle", "accepted", "whistled"),
        ("report_in", "whistled", "in_progress"),
        ("report_in", "in_progress", "in_progress"),
        ("handle", "in_progress", "in_progress"),
        ("handle", "in_progress", "handled"),
        ("verify", "handled", "in_progress"),
        ("handle", "in_progress", "in_progress"),
        ("handle", "in_progress", "handled"),
        ("verify", "handled", "verified"),
        ("close", "verified", "closed"),
        ("return_visit", "closed", "rated"),
    ]
    case.refresh_from_db()
    assert case.version == len(actions)  # 1 at intake, +1 per move
    timeline = resident.get(f"/cases/{case.pk}/timeline").json()
    assert [e["action"] for e in timeline] == [a for a, _, _ in actions]
