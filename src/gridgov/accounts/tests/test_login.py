"""Login, logout, the failed-login lock (等保2.0 身份鉴别 b)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from gridgov.accounts import services
from gridgov.accounts.models import AuditEvent, AuditEventType, User
from gridgov.accounts.tests.conftest import PASSWORD, Api, make_user

pytestmark = pytest.mark.django_db


def test_csrf_endpoint_sets_the_cookie(api):
    response = api.get("/auth/csrf")
    assert response.status_code == 200
    token = response.json()["csrf_token"]
    assert token
    assert "csrftoken" in response.cookies


def test_login_returns_the_profile_and_starts_a_session(api, people, areas):
    response = api.login("staff_a")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "staff_a"
    assert body["display_name"] == "STAFF_A"
    assert body["roles"] == [
        {
            "role": "community_staff",
            "role_label": "Community staff",
            "area_code": areas.comm_a.code,
            "area_name": areas.comm_a.name,
            "area_level": "community",
            "organisation_code": None,
            "organisation_name": None,
        }
    ]
    assert body["scope"] == {
        "kind": "area_and_below",
        "kinds": ["area_and_below"],
        "area_codes": [areas.comm_a.code],
        "organisation_codes": [],
    }
    assert body["totp_enabled"] is False
    assert body["mfa_enrolment_required"] is False
    assert body["language"] == "en"
    assert body["session_idle_seconds"] == 1800
    me = api.get("/auth/me")
    assert me.status_code == 200
    assert me.json() == body
    assert User.objects.get(pk=people.staff_a.pk).last_login is not None


def test_me_without_a_session_is_401(api, people):
    response = api.get("/auth/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("username", ["staff_a", "nobody"])
def test_wrong_credentials_get_one_generic_401(api, people, username):
    response = api.login(username, "Wrong-Password-1")
    assert response.status_code == 401
    body = response.json()
    assert body["type"].endswith("/invalid-credentials")
    assert body["detail"] == "The username or password is wrong."
    assert api.get("/auth/me").status_code == 401


def test_failure_is_counted_and_success_resets_the_counter(api, people):
    for _ in range(3):
        assert api.login("staff_a", "Wrong-Password-1").status_code == 401
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 3
    assert api.login("staff_a").status_code == 200
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 0


def test_five_failures_lock_the_account_for_thirty_minutes(api, people):
    statuses = [api.login("staff_a", "Wrong-Password-1").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 401]
    fifth = api.login("staff_a", "Wrong-Password-1")
    assert fifth.status_code == 423
    body = fifth.json()
    assert body["type"].endswith("/locked")
    assert body["minutes_remaining"] == 30
    assert "locked" in body["detail"] and "30 minutes" in body["detail"]

    user = User.objects.get(pk=people.staff_a.pk)
    assert user.failed_logins == 5
    assert user.locked_until > timezone.now() + dt.timedelta(minutes=29)

    # Even the right password answers 423 while locked, and does not log in.
    locked = api.login("staff_a")
    assert locked.status_code == 423
    assert "30 minutes" in locked.json()["detail"]
    assert api.get("/auth/me").status_code == 401
    assert AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_LOCKED, username="staff_a").count() == 1


def test_minutes_remaining_count_down(api, people):
    User.objects.filter(pk=people.staff_a.pk).update(
        failed_logins=5, locked_until=timezone.now() + dt.timedelta(minutes=7, seconds=10)
    )
    response = api.login("staff_a")
    assert response.status_code == 423
    assert response.json()["minutes_remaining"] == 8
    assert "8 minutes" in response.json()["detail"]


def test_lock_ends_after_the_lock_time(api, people):
    User.objects.filter(pk=people.staff_a.pk).update(
        failed_logins=5, locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    # A failure after the lock ran out starts a new count instead of locking again at once.
    assert api.login("staff_a", "Wrong-Password-1").status_code == 401
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 1
    assert api.login("staff_a").status_code == 200
    user = User.objects.get(pk=people.staff_a.pk)
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_security_admin_unlocks(api, people, as_user):
    for _ in range(5):
        api.login("staff_a", "Wrong-Password-1")
    assert api.login("staff_a").status_code == 423
    response = as_user(people.secadmin).post(f"/accounts/users/{people.staff_a.pk}/unlock")
    assert response.status_code == 200, response.content
    assert response.json()["is_locked"] is False
    assert api.login("staff_a").status_code == 200
    event = AuditEvent.objects.filter(event_type=AuditEventType.UNLOCK).get()
    assert (event.username, event.object_id, event.success) == ("secadmin", str(people.staff_a.pk), True)


def test_inactive_user_gets_the_generic_401(api, people):
    User.objects.filter(pk=people.staff_a.pk).update(is_active=False)
    response = api.login("staff_a")
    assert response.status_code == 401
    assert response.json()["detail"] == "The username or password is wrong."


def test_logout_ends_the_session(api, people):
    assert api.login("staff_a").status_code == 200
    response = api.post("/auth/logout")
    assert response.status_code == 204
    assert api.get("/auth/me").status_code == 401
    assert AuditEvent.objects.filter(event_type=AuditEventType.LOGOUT, username="staff_a").exists()


def test_failures_are_counted_in_the_database_not_from_a_stale_object(people):
    """Two failures registered through the same stale object both count (UPDATE … SET n = n + 1)."""
    stale = User.objects.get(pk=people.staff_a.pk)
    assert services.register_login_failure(stale) is None
    stale.failed_logins = 0  # what a parallel request that loaded the row earlier still believes
    assert services.register_login_failure(stale) is None
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 2


def test_login_hashes_with_argon2(people):
    user = make_user("fresh")
    user.set_password(PASSWORD)
    assert user.password.startswith("argon2$")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_failed_logins_all_count():
    user = make_user("target")
    barrier = threading.Barrier(4)
    results: list[int] = []

    def attempt():
        try:
            barrier.wait()
            api = Api()
            results.append(api.login("target", "Wrong-Password-1").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [401, 401, 401, 401]
    assert User.objects.get(pk=user.pk).failed_logins == 4
