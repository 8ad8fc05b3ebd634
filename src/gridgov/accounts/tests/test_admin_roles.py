"""三权分立: the system administrator manages accounts, the security administrator roles, locks and
second factors, the audit administrator reads the audit log; each only their own."""

from __future__ import annotations

import pytest

from gridgov.accounts.models import AuditEvent, AuditEventType, Membership, User
from gridgov.accounts.roles import Role
from gridgov.accounts.tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db

ACTORS = ["admin", "secadmin", "auditor", "staff_a", "sub_staff", "resident_a"]


def _actions(people, areas):
    membership = Membership.objects.get(user=people.worker_a)
    return {
        "create_user": (
            Role.ADMIN,
            lambda api: api.post("/accounts/users", {"username": "newbie", "password": "Neu-Passw0rd!"}),
        ),
        "change_user": (
            Role.ADMIN,
            lambda api: api.patch(f"/accounts/users/{people.worker_a.pk}", {"display_name": "Changed"}),
        ),
        "grant_role": (
            Role.SECURITY_ADMIN,
            lambda api: api.post(
                f"/accounts/users/{people.resident_b.pk}/memberships",
                {"role": "grid_worker", "area_code": areas.grid_b.code},
            ),
        ),
        "revoke_role": (
            Role.SECURITY_ADMIN,
            lambda api: api.delete(f"/accounts/memberships/{membership.pk}"),
        ),
        "unlock": (Role.SECURITY_ADMIN, lambda api: api.post(f"/accounts/users/{people.worker_a.pk}/unlock")),
        "reset_totp": (
            Role.SECURITY_ADMIN,
            lambda api: api.post(f"/accounts/users/{people.worker_a.pk}/totp/reset"),
        ),
        "read_audit": (Role.AUDIT_ADMIN, lambda api: api.get("/accounts/audit")),
    }


ACTION_NAMES = [
    "create_user",
    "change_user",
    "grant_role",
    "revoke_role",
    "unlock",
    "reset_totp",
    "read_audit",
]


@pytest.mark.parametrize("action", ACTION_NAMES)
@pytest.mark.parametrize("actor", ACTORS)
def test_each_administrator_does_only_their_own_things(as_user, people, areas, actor, action):
    user = getattr(people, actor)
    role, call = _actions(people, areas)[action]
    allowed = Membership.objects.filter(user=user, role=role).exists()
    response = call(as_user(user))
    if allowed:
        assert 200 <= response.status_code < 300, (actor, action, response.content)
    else:
        assert response.status_code == 403, (actor, action, response.status_code)
        assert response.json()["type"].endswith("/forbidden")
        denied = AuditEvent.objects.filter(
            event_type=AuditEventType.PERMISSION_DENIED, username=user.username
        )
        assert denied.count() == 1
        assert denied.get().success is False


def test_admin_creates_a_user_who_can_log_in(as_user, people):
    response = as_user(people.admin).post(
        "/accounts/users",
        {"username": "newbie", "password": "Neu-Passw0rd!", "display_name": "新人", "phone": "13512345678"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["phone"] == "135****5678"
    assert body["memberships"] == []
    assert Api().login("newbie", "Neu-Passw0rd!").status_code == 200
    event = AuditEvent.objects.get(event_type=AuditEventType.USER_CREATE)
    assert (event.username, event.object_id) == ("sysadmin", str(body["id"]))


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"username": "newbie", "password": "short"}, "password"),
        ({"username": "newbie", "password": "alllowercase"}, "password"),
        ({"username": "staff_a", "password": "Neu-Passw0rd!"}, "username"),
        ({"username": "bad name!", "password": "Neu-Passw0rd!"}, "username"),
        ({"username": "newbie", "password": "Neu-Passw0rd!", "phone": "abc"}, "phone"),
    ],
)
def test_create_user_validates(as_user, people, payload, field):
    response = as_user(people.admin).post("/accounts/users", payload)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}


def test_admin_changes_a_user(as_user, people):
    api = as_user(people.admin)
    response = api.patch(
        f"/accounts/users/{people.worker_a.pk}", {"display_name": "王五", "is_active": False}
    )
    assert response.status_code == 200, response.content
    assert response.json()["display_name"] == "王五"
    assert response.json()["is_active"] is False
    event = AuditEvent.objects.get(event_type=AuditEventType.USER_CHANGE)
    assert event.detail["changes"]["is_active"] == [True, False]
    weak = api.patch(f"/accounts/users/{people.worker_a.pk}", {"password": "weakpass"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "password"
    assert (
        api.patch(f"/accounts/users/{people.worker_a.pk}", {"password": "Reset-Passw0rd!"}).status_code == 200
    )
    assert User.objects.get(pk=people.worker_a.pk).check_password("Reset-Passw0rd!")


def test_admin_cannot_take_over_the_other_administrators(as_user, people):
    api = as_user(people.admin)
    for target in (people.secadmin, people.auditor):
        assert api.patch(f"/accounts/users/{target.pk}", {"password": "Take-Over-123!"}).status_code == 403
        assert api.patch(f"/accounts/users/{target.pk}", {"is_active": False}).status_code == 403
    assert User.objects.get(pk=people.secadmin.pk).check_password(PASSWORD)


def test_admin_change_of_a_missing_user_is_404(as_user, people):
    assert as_user(people.admin).patch("/accounts/users/999999", {"display_name": "x"}).status_code == 404


def test_grant_and_revoke(as_user, people, areas, orgs):
    api = as_user(people.secadmin)
    granted = api.post(
        f"/accounts/users/{people.resident_b.pk}/memberships",
        {"role": "community_staff", "area_code": areas.comm_b.code},
    )
    assert granted.status_code == 201, granted.content
    body = granted.json()
    assert (body["role"], body["area_code"], body["area_level"]) == (
        "community_staff",
        areas.comm_b.code,
        "community",
    )
    event = AuditEvent.objects.get(event_type=AuditEventType.ROLE_GRANT)
    assert event.detail["role"] == "community_staff" and event.detail["area_code"] == areas.comm_b.code

    dept = api.post(
        f"/accounts/users/{people.resident_b.pk}/memberships",
        {"role": "department_handler", "organisation_code": orgs.dept.code},
    )
    assert dept.status_code == 201
    assert dept.json()["organisation_code"] == orgs.dept.code

    assert api.delete(f"/accounts/memberships/{body['id']}").status_code == 204
    assert not Membership.objects.filter(pk=body["id"]).exists()
    assert AuditEvent.objects.filter(
        event_type=AuditEventType.ROLE_REVOKE, object_id=str(body["id"])
    ).exists()
    assert api.delete(f"/accounts/memberships/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"role": "community_staff", "area_code": "440309002001001"}, "area_code"),  # a grid, not a community
        ({"role": "community_staff"}, "area_code"),
        ({"role": "grid_worker", "area_code": "nope"}, "area_code"),
        ({"role": "department_handler", "organisation_code": "P-A"}, "organisation_code"),  # a partner unit
        ({"role": "department_handler"}, "organisation_code"),
        ({"role": "partner_org", "organisation_code": "D-GA"}, "organisation_code"),
        (
            {"role": "grid_worker", "area_code": "440309002001001", "organisation_code": "D-GA"},
            "organisation_code",
        ),
        ({"role": "admin", "area_code": "440309"}, "area_code"),
        ({"role": "no_such_role"}, "body.role"),
    ],
)
def test_grant_checks_the_area_level_and_organisation_kind(as_user, people, orgs, payload, field):
    response = as_user(people.secadmin).post(f"/accounts/users/{people.resident_b.pk}/memberships", payload)
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}


def test_grant_conflicts(as_user, people, areas):
    api = as_user(people.secadmin)
    same = {"role": "grid_worker", "area_code": areas.grid_a.code}
    assert api.post(f"/accounts/users/{people.worker_a.pk}/memberships", same).status_code == 409
    # One person holds at most one of the three administrator roles.
    response = api.post(f"/accounts/users/{people.admin.pk}/memberships", {"role": "audit_admin"})
    assert response.status_code == 409
    # Nobody changes their own roles.
    assert (
        api.post(f"/accounts/users/{people.secadmin.pk}/memberships", {"role": "resident"}).status_code == 403
    )
    own = Membership.objects.get(user=people.secadmin)
    assert api.delete(f"/accounts/memberships/{own.pk}").status_code == 409


def test_security_admin_cannot_reset_their_own_second_factor(as_user, people):
    response = as_user(people.secadmin).post(f"/accounts/users/{people.secadmin.pk}/totp/reset")
    assert response.status_code == 403


def test_create_admin_for_the_console(db):
    from gridgov.accounts.services import create_admin

    user = create_admin(
        username="root", password="Root-Passw0rd!", role="security_admin", display_name="Root"
    )
    assert list(user.memberships.values_list("role", flat=True)) == ["security_admin"]
    assert Api().login("root", "Root-Passw0rd!").status_code == 200
    assert AuditEvent.objects.filter(event_type=AuditEventType.ROLE_GRANT, username="console").exists()


@pytest.mark.parametrize(
    ("holder", "payload"),
    [
        ("auditor", {"role": "community_staff", "area_code": "440309002001"}),
        ("admin", {"role": "resident"}),
        ("staff_a", {"role": "audit_admin"}),
        ("handler", {"role": "admin"}),
    ],
)
def test_administrator_roles_exclude_every_business_role(as_user, people, holder, payload):
    """三权分立 between the administrators and the business: the security administrator cannot give the
    audit administrator a business role (which would read the registry), nor a business user an
    administrator role; the answer is a clear 409 in the user's language and nothing changes."""
    from gridgov.testing import assert_problem

    target = getattr(people, holder)
    before = list(Membership.objects.filter(user=target).values_list("role", flat=True))
    for language in ("en", "zh"):
        api = as_user(people.secadmin, language="zh-hans" if language == "zh" else "en")
        response = api.post(f"/accounts/users/{target.pk}/memberships", payload)
        body = assert_problem(response, 409, code="conflict", field="role", language=language)
        if language == "en":
            assert "administrator" in body["detail"]
    assert list(Membership.objects.filter(user=target).values_list("role", flat=True)) == before


def test_the_model_refuses_mixing_administrator_and_business_roles(people, areas):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Membership.objects.create(user=people.auditor, role=Role.COMMUNITY_STAFF, area=areas.comm_a)
    with pytest.raises(ValidationError):
        Membership.objects.create(user=people.staff_a, role=Role.SECURITY_ADMIN)
    assert not Membership.objects.filter(user=people.auditor, role=Role.COMMUNITY_STAFF).exists()


def test_an_administrator_holding_a_business_role_from_before_gets_no_business_scope(people, areas):
    """Rows made before the rule (bypassing the model) give no access: only the administrator role counts."""
    from gridgov.accounts.scope import scope_for

    Membership.objects.bulk_create(
        [Membership(user=people.auditor, role=Role.COMMUNITY_STAFF, area=areas.comm_a)]
    )
    scope = scope_for(people.auditor)
    assert scope.roles == {Role.AUDIT_ADMIN} or set(scope.roles) == {Role.AUDIT_ADMIN}
    assert not scope.subtree_paths and not scope.all
