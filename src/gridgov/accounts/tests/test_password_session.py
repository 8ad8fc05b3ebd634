"""Password policy, idle session timeout, CSRF on session writes."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from gridgov.accounts.middleware import LAST_SEEN_KEY
from gridgov.accounts.models import AuditEvent, AuditEventType, User
from gridgov.accounts.tests.conftest import PASSWORD, Api

pytestmark = pytest.mark.django_db

POLICY_TEXT = "The password needs at least 8 characters and at least 3 of"


@pytest.mark.parametrize("new_password", ["Ab1!x", "abcdefgh12", "ABCDEFGHIJ"])
def test_weak_new_password_is_422_with_a_field_error_in_english(as_user, people, new_password):
    api = as_user(people.staff_a, language="en")
    response = api.post("/auth/password", {"old_password": PASSWORD, "new_password": new_password})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/validation")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"new_password"}
    assert any(e["message"].startswith(POLICY_TEXT) for e in body["errors"])
    assert User.objects.get(pk=people.staff_a.pk).check_password(PASSWORD)


def test_weak_new_password_in_chinese_by_default(as_user, people):
    api = as_user(people.staff_a)
    api.language = "zh-hans"
    response = api.post("/auth/password", {"old_password": PASSWORD, "new_password": "short"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "new_password"


def test_wrong_old_password_is_a_field_error(as_user, people):
    response = as_user(people.staff_a).post(
        "/auth/password", {"old_password": "Not-It-123", "new_password": "New-Passw0rd!"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "old_password", "message": "The current password is wrong."}
    ]
    event = AuditEvent.objects.get(event_type=AuditEventType.PASSWORD_CHANGE)
    assert event.success is False


def test_password_change_keeps_the_session_and_is_audited(api, people):
    assert api.login("staff_a").status_code == 200
    response = api.post("/auth/password", {"old_password": PASSWORD, "new_password": "New-Passw0rd!"})
    assert response.status_code == 204, response.content
    user = User.objects.get(pk=people.staff_a.pk)
    assert user.check_password("New-Passw0rd!")
    assert user.password_changed_at is not None
    assert api.get("/auth/me").status_code == 200
    event = AuditEvent.objects.get(event_type=AuditEventType.PASSWORD_CHANGE)
    assert (event.username, event.success) == ("staff_a", True)
    fresh = Api()
    assert fresh.login("staff_a", PASSWORD).status_code == 401
    assert fresh.login("staff_a", "New-Passw0rd!").status_code == 200


def _age_session(client: Client, seconds: float) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - seconds
    session.save()


def test_idle_session_ends_with_session_expired(api, people):
    assert api.login("staff_a").status_code == 200
    assert api.get("/auth/me").status_code == 200
    _age_session(api.client, 1800 + 5)
    response = api.get("/accounts/users")
    assert response.status_code == 401
    body = response.json()
    assert body["type"].endswith("/session-expired")
    assert "inactivity" in body["detail"]
    event = AuditEvent.objects.get(event_type=AuditEventType.SESSION_EXPIRED)
    assert (event.username, event.user_id_ref) == ("staff_a", people.staff_a.pk)
    # The session is gone: the next request is simply not logged in.
    again = api.get("/auth/me")
    assert again.status_code == 401
    assert again.json()["type"].endswith("/not-authenticated")


def test_active_session_stays(api, people):
    assert api.login("staff_a").status_code == 200
    _age_session(api.client, 1800 - 60)
    assert api.get("/auth/me").status_code == 200
    assert api.get("/auth/me").status_code == 200


def test_idle_timeout_follows_the_setting(api, people, settings):
    settings.GRIDGOV_SESSION_IDLE_SECONDS = 300
    assert api.login("staff_a").status_code == 200
    assert api.get("/auth/me").json()["session_idle_seconds"] == 300
    _age_session(api.client, 301)
    assert api.get("/auth/me").json()["type"].endswith("/session-expired")


def test_csrf_is_required_for_session_writes(people):
    api = Api(Client(enforce_csrf_checks=True))
    refused = api.login("staff_a")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    api.csrf = api.get("/auth/csrf").json()["csrf_token"]
    assert api.login("staff_a").status_code == 200

    # After login the token rotates; a write without it is refused, with it accepted.
    api.csrf = ""
    response = api.post("/accounts/tokens", {"name": "x"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    api.csrf = api.get("/auth/csrf").json()["csrf_token"]
    assert api.post("/accounts/tokens", {"name": "x"}).status_code == 201
    assert api.post("/auth/logout").status_code == 204
    assert (
        AuditEvent.objects.filter(event_type=AuditEventType.PERMISSION_DENIED, detail__action="csrf").count()
        == 2
    )


def test_reads_need_no_csrf_token(people):
    api = Api(Client(enforce_csrf_checks=True))
    api.csrf = api.get("/auth/csrf").json()["csrf_token"]
    assert api.login("staff_a").status_code == 200
    api.csrf = ""
    assert api.get("/auth/me").status_code == 200
