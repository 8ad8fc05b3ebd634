"""Intake (idempotency, location, validation), data scope and masking."""

from __future__ import annotations

import pytest

from gridgov.cases.models import Case, TimelineEvent
from gridgov.cases.tests.conftest import A1, A2, B1, OUTSIDE, Api, act, report
from gridgov.core.pii import mask_name, mask_phone
from gridgov.territory import geo


def _payload(point=A1, **extra):
    return {"description": "路灯不亮，晚上很黑", "lng": point[0], "lat": point[1], **extra}


def test_idempotent_intake(people, world):
    api = Api(people.resident)
    first = api.post("/cases", _payload(), HTTP_IDEMPOTENCY_KEY="abc-123")
    again = api.post("/cases", _payload(), HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Case.objects.count() == 1
    assert TimelineEvent.objects.filter(action="submit").count() == 1
    # The same key from another creator is another case; no key → always a new case.
    assert Api(people.resident2).post("/cases", _payload(), HTTP_IDEMPOTENCY_KEY="abc-123").status_code == 201
    assert api.post("/cases", _payload()).status_code == 201
    assert api.post("/cases", _payload()).status_code == 201
    assert Case.objects.count() == 4


def test_point_is_located_from_a_declared_crs(people, world):
    lng, lat = geo.from_wgs84(B1[0], B1[1], "gcj02")
    r = Api(people.resident).post("/cases", _payload((float(lng), float(lat)), crs="gcj02"))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["grid_code"] == world.grid_b1.code and body["holder_area_code"] == world.comm_b.code
    assert abs(body["lng"] - B1[0]) < 1e-5 and body["input_crs"] == "gcj02"


def test_outside_every_grid_needs_an_area_code(people, world):
    api = Api(people.staff_a)
    r = api.post("/cases", _payload(OUTSIDE, reporter_name="王先生", channel="hotline"))
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["lng"]
    r = api.post(
        "/cases", _payload(OUTSIDE, reporter_name="王先生", channel="hotline", area_code=world.comm_a.code)
    )
    assert r.status_code == 201, r.content
    assert r.json()["grid_code"] is None and r.json()["area_code"] == world.comm_a.code


@pytest.mark.parametrize(
    "who, payload, fields",
    [
        ("resident", {"description": ""}, {"body.description"}),
        ("resident", {"lng": "east"}, {"body.lng"}),
        ("resident", {"kind": "rumour"}, {"body.kind"}),
        ("resident", {"channel": "hotline"}, {"channel"}),
        ("resident", {"category_code": "E01"}, {"category_code"}),
        ("staff_a", {"channel": "window"}, {"reporter_name"}),
        ("resident", {"lng": None, "lat": None}, {"lng"}),
        ("resident", {"area_code": "999999"}, set()),  # the point lies in a grid: the code is not needed
    ],
)
def test_intake_validation(who, payload, fields, people, world):
    r = Api(getattr(people, who)).post("/cases", {**_payload(), **payload})
    if not fields:
        assert r.status_code == 201
        return
    assert r.status_code == 422, r.content
    assert {e["field"] for e in r.json()["errors"]} == fields


def test_action_validation_names_the_fields(people, world):
    case = report(people.resident)
    api = Api(people.staff_a)
    r = api.action(case, "accept")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "category_code"
    r = api.action(case, "reject")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    act("accept", case, people.staff_a, category_code="E0102")
    r = api.action(case, "whistle", departments=["440309-NOPE"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "departments"
    r = api.action(case, "whistle", whistle_item_id=999999)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "whistle_item_id"
    r = api.post(f"/cases/{case.pk}/actions/whistle", {"note": "no version"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.version"
    case.refresh_from_db()
    assert case.status == "accepted"


def test_scope_of_lists_and_details(people, world):
    a1 = report(people.resident, A1)
    a2 = report(people.resident2, A2)
    b1 = report(people.resident2, B1)
    act("accept", a1, people.staff_a, category_code="E0102")
    act("whistle", a1, people.staff_a, departments=["440309-CG"])

    def ids(user, **params):
        r = Api(user).get("/cases", params)
        assert r.status_code == 200
        return {c["id"] for c in r.json()["items"]}

    assert ids(people.admin) == {a1.pk, a2.pk, b1.pk}
    assert ids(people.leader) == {a1.pk, a2.pk, b1.pk}
    assert ids(people.staff_a) == {a1.pk, a2.pk}
    assert ids(people.staff_b) == {b1.pk}
    assert ids(people.worker_a1) == {a1.pk}
    assert ids(people.dept_cg) == {a1.pk}
    assert ids(people.dept_ga) == set()
    assert ids(people.resident) == {a1.pk}
    assert ids(people.resident2) == {a2.pk, b1.pk}
    assert Api(people.staff_a).get(f"/cases/{b1.pk}").status_code == 404
    assert Api(people.staff_a).get(f"/cases/{b1.pk}/timeline").status_code == 404
    assert Api(people.dept_ga).get(f"/cases/{a1.pk}").status_code == 404
    assert Api(people.resident).get(f"/cases/{a2.pk}").status_code == 404
    r = Api(people.staff_b).action(b1, "accept", category_code="E0102")
    assert r.status_code == 200
    assert Api(people.staff_a).action(b1, "reject", reason="x").status_code == 404
    assert Api().get("/cases").status_code == 401


def test_list_filters(people, world):
    a1 = report(people.resident, A1, category_code="E0102")
    a2 = report(people.resident2, A2, category_code="C0104")
    act("accept", a1, people.staff_a)
    act("whistle", a1, people.staff_a, departments=["440309-CG"])

    def ids(**params):
        return {c["id"] for c in Api(people.admin).get("/cases", params).json()["items"]}

    assert ids(status="whistled") == {a1.pk}
    assert ids(category="E01") == {a1.pk} and ids(category="C0104") == {a2.pk}
    assert ids(area=world.grid_a2.code) == {a2.pk} and ids(area=world.comm_a.code) == {a1.pk, a2.pk}
    assert ids(area=world.comm_b.code) == set()
    assert ids(department="440309-CG") == {a1.pk}
    assert ids(channel="resident_app") == {a1.pk, a2.pk} and ids(channel="hotline") == set()
    assert ids(overdue="false") == {a1.pk, a2.pk} and ids(overdue="true") == set()
    Case.objects.filter(pk=a1.pk).update(due_at="2020-01-01T00:00:00Z")
    assert ids(overdue="true") == {a1.pk}


def test_phone_is_masked_except_for_the_reporter_and_staff_of_the_area_who_reveal_it(people, world):
    """One rule with the registry: administrators never see it; grid workers of the case's area see it only
    when they reveal it (logged); the community's dispatchers (who call back) see it at once (logged); the
    reporter sees their own."""
    from gridgov.registry.models import PiiAccessLog

    case = report(people.resident)
    assert mask_phone("13812345678") == "138****5678" and mask_name("张三") == "张*"
    own = Api(people.resident).get(f"/cases/{case.pk}").json()
    assert own["reporter_phone"] == "13812345678"
    for user in (people.admin, people.worker_a1, people.leader):
        body = Api(user).get(f"/cases/{case.pk}").json()
        assert body["reporter_phone"] == "138****5678"
        assert "13812345678" not in Api(user).get("/cases").content.decode()
    assert "13812345678" not in Api(people.staff_a).get("/cases").content.decode()
    assert PiiAccessLog.objects.count() == 0
    for user in (people.admin, people.leader):  # no phone right: revealing changes nothing
        body = Api(user).get(f"/cases/{case.pk}", {"reveal": "true"}).json()
        assert body["reporter_phone"] == "138****5678" and body["revealable"] == []
    assert Api(people.worker_a1).get(f"/cases/{case.pk}").json()["revealable"] == [
        "reporter_name",
        "reporter_phone",
    ]
    body = Api(people.worker_a1).get(f"/cases/{case.pk}", {"reveal": "true", "purpose": "回访"}).json()
    assert body["reporter_phone"] == "13812345678"
    body = Api(people.staff_a).get(f"/cases/{case.pk}").json()
    assert body["reporter_phone"] == "13812345678" and body["revealable"] == [] and body["contact_logged"]
    logs = list(PiiAccessLog.objects.order_by("id"))
    assert [(log.username, log.object_type, log.object_refs) for log in logs] == [
        (people.worker_a1.username, "case", f",{case.pk},"),
        (people.staff_a.username, "case", f",{case.pk},"),
    ]
    assert logs[0].purpose == "回访"


def test_hotline_case_on_behalf_of_a_named_reporter(people, world):
    r = Api(people.staff_a).post(
        "/cases", _payload(channel="hotline", reporter_name="李阿姨", reporter_phone="13700001111")
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["reporter_phone"] == "137****1111" and body["reporter_name"] == "李**"
    case = Case.objects.get(pk=body["id"])
    assert case.reporter is None and case.created_by == people.staff_a


def test_integration_token_reports_through_external_channels(people, world):
    from gridgov.accounts.models import ApiToken
    from gridgov.accounts.services import hash_token
    from gridgov.cases.tests.conftest import make_user

    system = make_user("iot-gateway")
    ApiToken.objects.create(user=system, name="iot", prefix="gg_iot", token_hash=hash_token("gg_iot-secret"))
    api = Api()
    headers = {"HTTP_AUTHORIZATION": "Bearer gg_iot-secret", "HTTP_IDEMPOTENCY_KEY": "alarm-42"}
    body = {**_payload(), "channel": "device", "kind": "alarm", "description": "烟感告警"}
    first = api.post("/cases", body, **headers)
    assert first.status_code == 201, first.content
    assert first.json()["channel"] == "device"
    assert api.post("/cases", body, **headers).status_code == 200
    case = Case.objects.get(pk=first.json()["id"])
    assert case.created_by == system and case.reporter is None
    assert api.get(f"/cases/{case.pk}", **{"HTTP_AUTHORIZATION": "Bearer gg_iot-secret"}).status_code == 200
    # A session user without the token may not claim the device channel.
    r = Api(people.resident).post("/cases", body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"


def test_bad_attachment_names_are_refused(people, world):
    r = Api(people.resident).post("/cases", {**_payload(), "attachments": ["../etc/passwd"]})
    assert r.status_code == 422
