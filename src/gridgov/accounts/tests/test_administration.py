"""The administration screens' API: organisations created and changed by the system administrator, the
users list's filters, the role catalogue, the security administrator's lock and login records, the
login page's demo hint, and the lockout message (said once, in each language)."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from gridgov.accounts import selectors, services
from gridgov.accounts.models import AuditEvent, AuditEventType, LoginLock, Organisation, User
from gridgov.accounts.roles import Role
from gridgov.accounts.tests.conftest import PASSWORD, Api, make_user
from gridgov.testing import assert_problem

pytestmark = pytest.mark.django_db

OTHERS = ["secadmin", "auditor", "staff_a", "handler"]  # every administrator but the system one, and business


def _org_rows():
    return list(
        Organisation.objects.order_by("pk").values_list("code", "name", "kind", "area_id", "is_active")
    )


# --- organisations -----------------------------------------------------------------------------------


def test_system_administrator_creates_and_changes_an_organisation(as_user, people, areas):
    api = as_user(people.admin)
    created = api.post(
        "/accounts/organisations",
        {"code": "440309-SW", "name": "区水务局", "kind": "department", "area_code": areas.district.code},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["name"], body["kind"], body["area_code"]) == (
        "440309-SW",
        "区水务局",
        "department",
        areas.district.code,
    )
    # Every staff user now finds it among the departments (a community picks it when it whistles).
    listed = as_user(people.staff_a).get("/accounts/organisations", {"kind": "department"}).json()["items"]
    assert "440309-SW" in [o["code"] for o in listed]

    changed = api.patch("/accounts/organisations/440309-SW", {"name": "区水务局（改）", "code": "440309-SWJ"})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["code"], changed.json()["name"]) == ("440309-SWJ", "区水务局（改）")
    assert api.get("/accounts/organisations/440309-SW").status_code == 404
    events = AuditEvent.objects.filter(event_type=AuditEventType.DATA_CHANGE, object_type="organisation")
    assert [e.detail["action"] for e in events.order_by("chain_seq")] == ["create", "change"]
    assert events.order_by("chain_seq").last().detail["changes"]["code"] == ["440309-SW", "440309-SWJ"]

    off = api.patch("/accounts/organisations/440309-SWJ", {"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False


@pytest.mark.parametrize("actor", OTHERS)
def test_only_the_system_administrator_creates_or_changes_organisations(as_user, people, areas, orgs, actor):
    before = _org_rows()
    api = as_user(getattr(people, actor))
    created = api.post(
        "/accounts/organisations",
        {"code": "440309-X", "name": "某局", "kind": "department", "area_code": areas.district.code},
    )
    assert_problem(created, 403, code="forbidden")
    changed = api.patch(f"/accounts/organisations/{orgs.dept.code}", {"name": "改名"})
    assert_problem(changed, 403, code="forbidden")
    assert _org_rows() == before


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"code": "D-GA", "name": "重复", "kind": "department", "area_code": "440309"}, "code"),
        ({"code": "bad code!", "name": "某局", "kind": "department", "area_code": "440309"}, "code"),
        ({"code": "440309-X", "name": "  ", "kind": "department", "area_code": "440309"}, "name"),
        ({"code": "440309-X", "name": "某局", "kind": "department", "area_code": "nope"}, "area_code"),
        ({"code": "440309-X", "name": "某局", "kind": "department"}, "area_code"),
        # a department serves the district or a subdistrict, never a grid
        (
            {"code": "440309-X", "name": "某局", "kind": "department", "area_code": "440309002001001"},
            "area_code",
        ),
        ({"code": "440309-X", "name": "某居委", "kind": "committee", "area_code": "440309"}, "area_code"),
        ({"code": "440309-X", "name": "某局", "kind": "ministry", "area_code": "440309"}, "kind"),
    ],
)
def test_organisation_input_is_checked_in_chinese(as_user, people, areas, orgs, payload, field):
    before = _org_rows()
    response = as_user(people.admin, language="zh-hans").post("/accounts/organisations", payload)
    assert_problem(response, 422, field=field, language="zh")
    assert _org_rows() == before


def test_an_organisation_with_members_keeps_its_kind_and_stays_active(as_user, people, orgs):
    api = as_user(people.admin, language="zh-hans")
    before = _org_rows()
    kind = api.patch(f"/accounts/organisations/{orgs.dept.code}", {"kind": "partner"})
    assert_problem(kind, 422, field="kind", language="zh")
    inactive = api.patch(f"/accounts/organisations/{orgs.dept.code}", {"is_active": False})
    assert_problem(inactive, 422, field="is_active", language="zh")
    taken = api.patch(f"/accounts/organisations/{orgs.dept.code}", {"code": orgs.cmt_a.code})
    assert_problem(taken, 422, field="code", language="zh")
    assert api.patch("/accounts/organisations/NOPE", {"name": "x"}).status_code == 404
    assert _org_rows() == before


# --- users: the list's filters ------------------------------------------------------------------------


def test_users_list_filters_by_role_organisation_active_and_locked(as_user, people, orgs):
    api = as_user(people.admin)

    def names(**query):
        return sorted(
            u["username"] for u in api.get("/accounts/users", {**query, "page_size": 100}).json()["items"]
        )

    assert names(role="community_staff") == ["staff_a", "staff_b"]
    assert names(organisation=orgs.dept.code) == ["handler"]
    User.objects.filter(pk=people.worker_a.pk).update(is_active=False)
    assert names(is_active=False) == ["worker_a"]
    assert "worker_a" not in names(is_active=True)
    User.objects.filter(pk=people.staff_b.pk).update(
        locked_until=timezone.now() + timezone.timedelta(minutes=5)
    )
    LoginLock.objects.create(
        user=people.auditor,
        address="10.0.0.9",
        failed_logins=5,
        locked_until=timezone.now() + timezone.timedelta(minutes=5),
    )
    assert names(locked=True) == ["auditor", "staff_b"]
    assert "staff_b" not in names(locked=False)
    assert_problem(api.get("/accounts/users", {"role": "king"}), 422)


def test_reset_password_forces_a_change_and_ends_sessions(as_user, people):
    worker = Api().login("worker_a")
    assert worker.status_code == 200
    response = as_user(people.admin).patch(
        f"/accounts/users/{people.worker_a.pk}", {"password": "Reset-Passw0rd!"}
    )
    assert response.status_code == 200, response.content
    again = Api().login("worker_a", "Reset-Passw0rd!")
    assert again.json()["password_change_required"] is True


# --- roles --------------------------------------------------------------------------------------------


def test_role_catalogue_names_every_role_with_its_scope(as_user, people):
    body = as_user(people.admin, language="zh-hans").get("/accounts/roles").json()
    by_role = {r["role"]: r for r in body}
    assert set(by_role) == set(Role.values)
    assert by_role["grid_worker"]["scope"] == "area_and_below"
    assert by_role["grid_worker"]["area_levels"] == ["grid"]
    assert by_role["department_handler"]["organisation_kind"] == "department"
    assert by_role["security_admin"]["administrator"] is True
    assert by_role["grid_worker"]["label"] == "网格员"


# --- the security administrator's records -------------------------------------------------------------


def _lock_out(user: User) -> None:
    for _ in range(6):
        Api().login(user.username, "wrong-password")


def test_security_administrator_sees_the_lock_and_the_failed_logins_and_unlocks(as_user, people):
    _lock_out(people.worker_a)
    api = as_user(people.secadmin)
    locks = api.get("/accounts/locks").json()
    assert [(x["username"], x["address"]) for x in locks] == [("worker_a", "")]
    assert locks[0]["failed_logins"] >= 5
    records = api.get("/accounts/login-records", {"username": "worker_a"}).json()["items"]
    types = {r["event_type"] for r in records}
    assert {"login", "login_locked"} <= types
    assert all(r["success"] is False for r in records)
    only_locks = api.get("/accounts/login-records", {"event_type": "login_locked"}).json()["items"]
    assert [r["username"] for r in only_locks] == ["worker_a"]
    # Records outside signing in are not part of this view (the audit administrator reads them).
    assert api.get("/accounts/login-records", {"event_type": "role_grant"}).json()["items"] == []

    assert api.post(f"/accounts/users/{people.worker_a.pk}/unlock").status_code == 200
    assert api.get("/accounts/locks").json() == []
    assert Api().login("worker_a", PASSWORD).status_code == 200


@pytest.mark.parametrize("actor", ["admin", "auditor", "staff_a", "handler"])
def test_lock_and_login_records_are_the_security_administrators(as_user, people, actor):
    _lock_out(people.worker_a)
    api = as_user(getattr(people, actor))
    assert_problem(api.get("/accounts/locks"), 403, code="forbidden")
    assert_problem(api.get("/accounts/login-records"), 403, code="forbidden")
    unlock = api.post(f"/accounts/users/{people.worker_a.pk}/unlock")
    assert unlock.status_code in (403, 404)
    assert User.objects.get(pk=people.worker_a.pk).locked_until is not None


def test_login_records_date_filters_answer_4xx_not_500(as_user, people):
    api = as_user(people.secadmin, language="zh-hans")
    assert api.get("/accounts/login-records", {"date_from": "0001-01-01"}).status_code in (200, 422)
    assert_problem(api.get("/accounts/login-records", {"date_from": "2026-13-40"}), 422, language="zh")


# --- finding 5: the lockout message is said once --------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "sentence"),
    [("zh-hans", "账号已锁定"), ("en", "The account is locked after too many failed logins")],
)
def test_the_lockout_message_is_said_once(people, language, sentence):
    user = people.worker_a
    error = None
    with translation.override(language):
        for _ in range(5):
            error = services.register_login_failure(User.objects.get(pk=user.pk)) or error
    assert error is not None
    text = str(error.detail)
    assert text.count(sentence) == 1, text


# --- finding 12 (part): the demo password only on a demo ----------------------------------------------


def test_no_demo_no_demo_password(api, people):
    body = api.get("/auth/login-info").json()
    assert body == {"demo": False, "demo_password": None}


def test_demo_logins_show_the_demo_password(api, areas):
    from gridgov.demo.services import DEMO_PASSWORD

    make_user(f"grid_worker-{areas.grid_a.code}-1", Role.GRID_WORKER, area=areas.grid_a)  # a demo-made login
    body = api.get("/auth/login-info").json()
    assert body == {"demo": True, "demo_password": DEMO_PASSWORD}
    assert selectors.login_info()["demo"] is True


# --- the top bar's 动态口令: a QR code of the otpauth URI -----------------------------------------------


def test_totp_setup_gives_a_qr_code_of_the_uri(as_user, people):
    import base64
    from urllib.parse import unquote

    import segno

    body = as_user(people.staff_a).post("/auth/totp/setup").json()
    assert body["qr_code"].startswith("data:image/svg+xml")
    payload = body["qr_code"].split(",", 1)[1]
    svg = base64.b64decode(payload).decode() if ";base64" in body["qr_code"] else unquote(payload)
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "<script" not in svg
    expected = segno.make(body["otpauth_uri"], error="m").svg_data_uri(scale=5, border=2)
    assert body["qr_code"] == expected


# --- areas to assign ----------------------------------------------------------------------------------


def test_administrators_find_areas_to_assign_by_name_or_code(as_user, people, areas):
    for actor in ("admin", "secadmin"):
        api = as_user(getattr(people, actor))
        grids = api.get("/accounts/areas", {"level": "grid", "q": areas.grid_a.code}).json()
        assert [a["code"] for a in grids] == [areas.grid_a.code]
        named = api.get("/accounts/areas", {"q": areas.comm_a.name}).json()
        assert areas.comm_a.code in [a["code"] for a in named]
    for actor in ("auditor", "staff_a", "handler"):
        assert_problem(as_user(getattr(people, actor)).get("/accounts/areas"), 403, code="forbidden")
    assert_problem(as_user(people.admin).get("/accounts/areas", {"level": "planet"}), 422)
