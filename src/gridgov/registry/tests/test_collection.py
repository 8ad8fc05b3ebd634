"""Collection by building heads (楼长采集) with review, record history, direct edits and data scope."""

from __future__ import annotations

import pytest

from gridgov.registry.models import RecordHistory, Resident, Submission
from gridgov.registry.pii import mask_id, mask_phone
from gridgov.registry.tests.conftest import Api, csv_bytes, id_for, resident_rows, run_import


def _new_resident(building: str = "44030900200100101", i: int = 300) -> dict:
    return {
        "name": "新租客", "id_number": id_for(i), "phone": "13712345678", "residence_type": "tenant",
        "building_code": building, "unit": "1", "room": "0301", "household_no": "T1", "relation": "head",
        "moved_in": "2024-05-01",
    }  # fmt: skip


def collect_one(people) -> dict:
    r = Api(people.head_a1).post(
        "/submissions", {"kind": "resident", "action": "create", "data": _new_resident()}
    )
    assert r.status_code == 201, r.content
    return r.json()


def test_building_head_collects_and_staff_approves(people):
    body = collect_one(people)
    # the collector's answer is masked by the one rule too (issue 13, finding 6)
    assert body["status"] == "pending" and body["data"]["id_number"] == mask_id(id_for(300))
    assert Resident.objects.count() == 0
    staff = Api(people.staff_a)
    seen = staff.get(f"/submissions/{body['id']}").json()
    assert seen["data"]["id_number"] == mask_id(id_for(300)) and seen["data"]["phone"] == mask_phone(
        "13712345678"
    )
    assert seen["revealable"] == ["phone"]
    shown = staff.get(f"/submissions/{body['id']}?reveal=true").json()
    assert shown["data"]["phone"] == "13712345678" and shown["data"]["id_number"] == mask_id(id_for(300))
    assert Api(people.worker_a1).post(f"/submissions/{body['id']}/approve").status_code == 403
    r = staff.post(f"/submissions/{body['id']}/approve")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "approved" and r.json()["reviewed_by"] == "staff_a"
    resident = Resident.objects.get(pk=r.json()["result_id"])
    assert resident.source == "collection" and resident.collected_by == people.head_a1
    assert resident.household.head_id == resident.pk
    history = list(RecordHistory.objects.filter(object_type="resident", object_id=resident.pk))
    assert [h.action for h in history] == ["create"] and history[0].submission_id == body["id"]
    assert history[0].changes["id_number"] == [None, mask_id(id_for(300))]
    assert staff.post(f"/submissions/{body['id']}/approve").status_code == 409


def test_reject_needs_a_reason_and_changes_are_versioned(people):
    body = collect_one(people)
    staff = Api(people.staff_a)
    r = staff.post(f"/submissions/{body['id']}/reject", {"reason": ""})
    assert r.status_code == 422
    r = staff.post(f"/submissions/{body['id']}/reject", {"reason": "身份证号与本人不符，请重新核实"})
    assert r.json()["status"] == "rejected" and r.json()["reason"].startswith("身份证号")
    assert Resident.objects.count() == 0
    # A change and a move-out through submissions; a stale base version answers 409.
    run_import(people.staff_a, csv_bytes(resident_rows(3)))
    target = Resident.objects.get(name="居民1")
    head = Api(people.head_a1)
    change = head.post("/submissions", {"kind": "resident", "action": "update", "target_id": target.pk,
                                        "data": {"phone": "13700000001", "name": "居民一"}}).json()  # fmt: skip
    move = head.post("/submissions", {"kind": "resident", "action": "move_out", "target_id": target.pk,
                                      "data": {"moved_out": "2025-01-02"}}).json()  # fmt: skip
    assert staff.post(f"/submissions/{change['id']}/approve").status_code == 200
    assert staff.post(f"/submissions/{move['id']}/approve").status_code == 409
    target.refresh_from_db()
    assert target.name == "居民一" and target.version == 2
    hist = staff.get(f"/residents/{target.pk}/history").json()
    assert [h["action"] for h in hist] == ["update"]
    assert hist[0]["changes"]["phone"] == [mask_phone("13900000001"), mask_phone("13700000001")]
    assert hist[0]["changes"]["name"] == ["居民1", "居民一"]


def test_who_sees_which_submissions(people, world):
    body = collect_one(people)
    assert Api(people.head_a1).get("/submissions").json()["count"] == 1
    assert Api(people.head_b1).get("/submissions").json()["count"] == 0
    assert Api(people.staff_b).get(f"/submissions/{body['id']}").status_code == 404
    assert Api(people.staff_b).post(f"/submissions/{body['id']}/approve").status_code == 404
    # A resident declares their own household; they see only their own submissions.
    mine = Api(people.resident).post(
        "/submissions", {"kind": "resident", "action": "create", "data": _new_resident(world.b1.code, 301)}
    )
    assert mine.status_code == 201, mine.content
    listed = Api(people.resident).get("/submissions").json()
    assert [s["id"] for s in listed["items"]] == [mine.json()["id"]]
    assert Api(people.resident).get("/residents").json()["count"] == 0
    assert Api(people.staff_b).get("/submissions", {"status": "pending"}).json()["count"] == 1
    # A building head cannot collect outside their grid.
    r = Api(people.head_a1).post(
        "/submissions", {"kind": "resident", "action": "create", "data": _new_resident(world.b1.code, 302)}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "building_code"
    assert Submission.objects.count() == 2


def test_staff_create_and_update_with_versions(people):
    staff = Api(people.staff_a)
    r = staff.post("/residents", _new_resident())
    assert r.status_code == 201, r.content
    rid, version = r.json()["id"], r.json()["version"]
    dup = staff.post("/residents", _new_resident())
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "id_number"
    bad = staff.post("/residents", {**_new_resident(i=303), "id_number": "440309199001011230"})
    assert bad.status_code == 422 and "check digit" in bad.json()["errors"][0]["message"]
    assert (
        staff.patch(f"/residents/{rid}", {"version": version, "moved_out": "2025-02-01"}).status_code == 200
    )
    assert staff.patch(f"/residents/{rid}", {"version": version, "name": "改名"}).status_code == 409
    assert Api(people.head_a1).patch(f"/residents/{rid}", {"version": 2, "name": "改名"}).status_code == 403
    assert [h.action for h in RecordHistory.objects.filter(object_id=rid)] == ["create", "move_out"]
    unit = staff.post("/units", {"name": "便民超市", "building_code": "44030900200100101", "phone": "075512345678",
                                 "credit_code": "", "kind": "shop"})  # fmt: skip
    assert unit.status_code == 201, unit.content
    assert unit.json()["phone"] == "0755****5678"
    assert unit.json()["masked"] == unit.json()["revealable"] == ["phone"]
    listed = Api(people.leader).get("/units").json()["items"]
    assert [(u["phone"], u["revealable"]) for u in listed] == [("0755****5678", [])]  # no reveal for leaders


@pytest.mark.parametrize("who, visible", [
    ("staff_a", 6), ("worker_a1", 6), ("head_a1", 6), ("leader", 9), ("sub_staff", 9), ("staff_b", 3),
    ("party", 0), ("resident", 0), ("admin", 0), ("auditor", 0),
])  # fmt: skip
def test_scope_of_reads(people, world, who, visible):
    run_import(people.staff_a, csv_bytes(resident_rows(6)))
    run_import(people.staff_b, csv_bytes(resident_rows(3, building=world.b1.code, start=50)))
    api = Api(getattr(people, who))
    body = api.get("/residents").json()
    assert body["count"] == visible
    inside_b = Resident.objects.get(name="居民50")
    status = api.get(f"/residents/{inside_b.pk}").status_code
    assert status == (200 if who in ("leader", "sub_staff", "staff_b") else 404)
    households = api.get("/households").json()["count"]
    assert households == {6: 2, 9: 4, 3: 2, 0: 0}[visible]


# --- issue 13, finding 6: masked by the kernel rule, and no access-log flood ------------------------------
def test_submissions_are_masked_and_a_list_view_writes_no_access_log_row(people):
    from gridgov.registry.models import PiiAccessLog

    head = Api(people.head_a1)
    for i in range(5):
        data = {**_new_resident(i=400 + i), "phone": f"1371234567{i}", "room": "0301"}
        assert (
            head.post("/submissions", {"kind": "resident", "action": "create", "data": data}).status_code
            == 201
        )
    before = PiiAccessLog.objects.count()
    for reader in (people.staff_a, people.head_a1):
        listed = Api(reader).get("/submissions").json()["items"]
        assert len(listed) == 5
        for item in listed:
            assert "*" in item["data"]["phone"] and "*" in item["data"]["id_number"]
            assert item["masked"] == ["id_number", "phone"]
    # the collector has no reveal; the community staff of the area may reveal the phone
    assert [i["revealable"] for i in Api(people.head_a1).get("/submissions").json()["items"]] == [[]] * 5
    assert PiiAccessLog.objects.count() == before  # page loads write nothing
    staff = Api(people.staff_a)
    one = listed[0]
    assert staff.get(f"/submissions/{one['id']}?reveal=true").json()["data"]["phone"].isdigit()
    logs = list(PiiAccessLog.objects.filter(object_type="submission"))
    assert [(x.username, x.count, x.fields) for x in logs] == [("staff_a", 1, ["phone"])]
    # a collector asking for a reveal still gets masked values and nothing is logged
    mine = Api(people.head_a1).get(f"/submissions/{one['id']}?reveal=true").json()
    assert "*" in mine["data"]["phone"] and PiiAccessLog.objects.filter(object_type="submission").count() == 1


def test_submissions_name_the_collector_and_the_building(people):
    people.head_a1.display_name = "王楼长"
    people.head_a1.save(update_fields=["display_name"])
    body = collect_one(people)
    assert body["submitted_by_name"] == "王楼长" and body["submitted_by"] == people.head_a1.username
    assert body["building_address"] and body["grid_name"]
