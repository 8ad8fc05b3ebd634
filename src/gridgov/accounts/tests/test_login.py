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

GENERIC = (
    "The username or password is wrong, or the account is disabled or locked for a while after too many "
    "failed logins."
)


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
    assert body["detail"] == GENERIC
    assert api.get("/auth/me").status_code == 401


def test_failure_is_counted_and_success_resets_the_counter(api, people):
    for _ in range(3):
        assert api.login("staff_a", "Wrong-Password-1").status_code == 401
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 3
    assert api.login("staff_a").status_code == 200
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 0


def test_five_failures_lock_the_account_for_thirty_minutes(api, people):
    statuses = [api.login("staff_a", "Wrong-Password-1").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 401]
    user = User.objects.get(pk=people.staff_a.pk)
    assert user.failed_logins == 5
    assert user.locked_until > timezone.now() + dt.timedelta(minutes=29)

    # Even the right password is refused while locked, and does not log in.
    locked = api.login("staff_a")
    assert locked.status_code == 401
    assert api.get("/auth/me").status_code == 401
    assert AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_LOCKED, username="staff_a").count() == 1
    assert AuditEvent.objects.filter(username="staff_a", detail__reason="locked").count() == 1


def test_a_locked_account_answers_exactly_like_an_unknown_one(people):
    """No username enumeration: locked, unknown and wrong-password answers are identical (status, body)."""
    User.objects.filter(pk=people.staff_a.pk).update(
        failed_logins=5, locked_until=timezone.now() + dt.timedelta(minutes=7)
    )
    locked = Api().login("staff_a")
    unknown = Api().login("nobody-at-all")
    wrong = Api().login("staff_b", "Wrong-Password-1")
    for language in ("en", "zh-hans"):
        locked = Api(language=language).login("staff_a")
        unknown = Api(language=language).login("nobody-at-all")
        wrong = Api(language=language).login("staff_b", "Wrong-Password-1")
        assert locked.status_code == unknown.status_code == wrong.status_code == 401
        assert locked.content == unknown.content == wrong.content
        assert locked["Content-Type"] == unknown["Content-Type"] == "application/problem+json"


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
    assert api.login("staff_a").status_code == 401
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
    assert response.json()["detail"] == GENERIC


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


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_burst_of_parallel_logins_never_gets_past_the_limit():
    """After 3 failures only 2 more attempts may be checked, however many arrive at once; the account
    ends locked and a right password arriving in the same burst cannot unlock it from a stale read."""
    user = make_user("target")
    for _ in range(3):
        assert services.register_login_failure(User.objects.get(pk=user.pk)) is None
    barrier = threading.Barrier(8)
    results: list[int] = []

    def attempt(password: str):
        try:
            barrier.wait()
            results.append(Api().login("target", password).status_code)
        finally:
            connections.close_all()

    passwords = ["Wrong-Password-1"] * 8
    threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [401] * 8
    user.refresh_from_db()
    assert user.failed_logins == 5 and user.locked_until is not None
    checked = AuditEvent.objects.filter(username="target", detail__reason="password").count()
    assert checked == 5  # 3 before + exactly 2 of the burst; the other 6 were refused unchecked
    assert AuditEvent.objects.filter(username="target", detail__reason="locked").count() == 6
    assert Api().login("target").status_code == 401  # the right password: still locked


def test_an_attempt_in_flight_cannot_unlock_an_account_locked_meanwhile(people, monkeypatch):
    """The race of the probe, made deterministic: while one attempt's password is being hashed, parallel
    failures use up the remaining tries. Only attempts that reserved a try before the lock are checked."""
    User.objects.filter(pk=people.staff_a.pk).update(failed_logins=3)
    inner: list[int] = []
    original = User.check_password

    def check_password(self, raw):
        if not inner:  # the parallel burst arrives while this attempt hashes
            inner.append(0)
            for _ in range(3):
                inner.append(Api().login("staff_a", "Wrong-Password-1").status_code)
        return original(self, raw)

    monkeypatch.setattr(User, "check_password", check_password)
    # The outer attempt reserved try 4 before the burst: with the right password it logs in (a correct
    # password within the limit), but the burst got only the one remaining try (5), not three.
    assert Api().login("staff_a").status_code == 200
    assert inner[1:] == [401, 401, 401]
    password_checks = AuditEvent.objects.filter(username="staff_a", detail__reason="password").count()
    assert password_checks == 1
    assert AuditEvent.objects.filter(username="staff_a", detail__reason="locked").count() == 2
