"""Finding 16 (sessions and tokens outlive deactivation and administrator password resets; an
administrator-set password is not forced to change) and finding 18 (GRIDGOV_MFA_REQUIRED covers every
role that reads personal data)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from gridgov.accounts.models import ApiToken, User
from gridgov.accounts.roles import MFA_ROLES, ROLE_SCOPE, DataScope, Role
from gridgov.accounts.tests.conftest import PASSWORD, Api, make_user
from gridgov.testing import assert_problem, make_token

pytestmark = pytest.mark.django_db

NEW = "Own-Choice-42!"


def _logged_in(username: str) -> Api:
    api = Api()
    assert api.login(username).status_code == 200
    return api


def test_deactivation_ends_sessions_and_tokens_and_reactivation_revives_nothing(as_user, people):
    session = _logged_in("worker_a")
    secret = make_token(people.worker_a)
    assert Api(token=secret).get("/auth/me").status_code == 200
    admin = as_user(people.admin)
    assert admin.patch(f"/accounts/users/{people.worker_a.pk}", {"is_active": False}).status_code == 200
    assert admin.patch(f"/accounts/users/{people.worker_a.pk}", {"is_active": True}).status_code == 200
    assert session.get("/auth/me").status_code == 401
    assert Api(token=secret).get("/auth/me").status_code == 401
    assert ApiToken.objects.get(user=people.worker_a).revoked_at is not None


def test_a_password_set_by_an_administrator_ends_sessions_and_tokens(as_user, people):
    session = _logged_in("worker_a")
    secret = make_token(people.worker_a)
    response = as_user(people.admin).patch(
        f"/accounts/users/{people.worker_a.pk}", {"password": "Reset-Passw0rd!"}
    )
    assert response.status_code == 200, response.content
    assert session.get("/auth/me").status_code == 401
    assert Api(token=secret).get("/auth/me").status_code == 401


@pytest.mark.parametrize("how", ["reset", "create"])
def test_an_administrator_set_password_must_be_changed_before_anything_else(as_user, people, how):
    admin = as_user(people.admin)
    if how == "reset":
        admin.patch(f"/accounts/users/{people.worker_a.pk}", {"password": "Reset-Passw0rd!"})
        username = "worker_a"
    else:
        created = admin.post("/accounts/users", {"username": "newbie", "password": "Reset-Passw0rd!"})
        assert created.status_code == 201, created.content
        username = "newbie"
    api = Api()
    login = api.login(username, "Reset-Passw0rd!")
    assert login.status_code == 200
    assert login.json()["password_change_required"] is True
    for language in ("en", "zh"):
        api.language = "zh-hans" if language == "zh" else "en"
        blocked = api.get("/accounts/users")
        assert_problem(blocked, 403, code="password-change-required", language=language)
    assert api.get("/auth/me").json()["password_change_required"] is True  # /auth/* stays open
    api.language = "en"
    changed = api.post("/auth/password", {"old_password": "Reset-Passw0rd!", "new_password": NEW})
    assert changed.status_code == 204, changed.content
    assert api.get("/auth/me").json()["password_change_required"] is False
    assert api.get("/accounts/users").status_code == 200
    assert User.objects.get(username=username).must_change_password is False


def test_own_password_change_does_not_force_another(people):
    api = _logged_in("staff_a")
    assert api.post("/auth/password", {"old_password": PASSWORD, "new_password": NEW}).status_code == 204
    assert api.get("/accounts/users").status_code == 200


def test_mfa_roles_are_every_role_that_reads_other_peoples_records():
    readers = {role for role, scope in ROLE_SCOPE.items() if scope != DataScope.SELF}
    assert readers <= MFA_ROLES
    assert {Role.BUILDING_HEAD, Role.PARTY_MEMBER, Role.PARTNER_ORG} <= MFA_ROLES
    assert {Role.SECURITY_ADMIN, Role.AUDIT_ADMIN} <= MFA_ROLES
    assert Role.RESIDENT not in MFA_ROLES and Role.VOLUNTEER not in MFA_ROLES


@override_settings(GRIDGOV_MFA_REQUIRED=True)
def test_mfa_required_covers_building_heads(areas):
    make_user("head", Role.BUILDING_HEAD, area=areas.grid_a)
    api = Api()
    assert api.login("head").json()["mfa_enrolment_required"] is True
    blocked = api.get("/api/v1/registry/residents")
    assert_problem(blocked, 403, code="mfa-enrolment-required")
