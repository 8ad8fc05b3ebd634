"""API tokens for integrations: shown once, stored as SHA-256, the owner's scope, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.accounts.models import ApiToken, AuditEvent, AuditEventType
from gridgov.accounts.tests.conftest import Api

pytestmark = pytest.mark.django_db


def test_create_shows_the_secret_once_and_stores_only_its_hash(as_user, people):
    api = as_user(people.staff_a)
    response = api.post("/accounts/tokens", {"name": "sync", "expires_in_days": 30})
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("gg_") and len(secret) >= 40
    assert body["prefix"] == secret[:11]
    token = ApiToken.objects.get(pk=body["id"])
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.user_id == people.staff_a.pk
    assert token.expires_at > timezone.now() + dt.timedelta(days=29)
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert secret not in stored

    listed = api.get("/accounts/tokens").json()
    assert listed["count"] == 1
    assert "secret" not in listed["items"][0]
    assert AuditEvent.objects.filter(event_type=AuditEventType.TOKEN_CREATE, object_id=str(token.pk)).exists()


def test_token_authenticates_as_its_user_with_the_same_scope(as_user, people):
    session = as_user(people.staff_a)
    secret = session.post("/accounts/tokens", {"name": "sync"}).json()["secret"]
    bearer = Api(token=secret)
    me = bearer.get("/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "staff_a"
    names = lambda api: sorted(u["username"] for u in api.get("/accounts/users").json()["items"])  # noqa: E731
    assert names(bearer) == names(session)
    assert "staff_b" not in names(bearer)


def test_bearer_writes_need_no_csrf_token(as_user, people):
    secret = as_user(people.staff_a).post("/accounts/tokens", {"name": "sync"}).json()["secret"]
    api = Api(Client(enforce_csrf_checks=True), token=secret)
    assert api.post("/accounts/tokens", {"name": "second"}).status_code == 201


def test_revoked_token_is_401(as_user, people):
    session = as_user(people.staff_a)
    created = session.post("/accounts/tokens", {"name": "sync"}).json()
    bearer = Api(token=created["secret"])
    assert bearer.get("/auth/me").status_code == 200
    assert session.delete(f"/accounts/tokens/{created['id']}").status_code == 204
    response = bearer.get("/auth/me")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/invalid-token")
    assert AuditEvent.objects.filter(event_type=AuditEventType.TOKEN_REVOKE).count() == 1
    assert AuditEvent.objects.filter(event_type=AuditEventType.TOKEN_AUTH, success=False).count() == 1


def test_expired_or_unknown_token_is_401(as_user, people):
    created = as_user(people.staff_a).post("/accounts/tokens", {"name": "sync"}).json()
    ApiToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert Api(token=created["secret"]).get("/auth/me").status_code == 401
    assert Api(token="gg_not-a-token").get("/accounts/users").status_code == 401


def test_token_of_a_deactivated_user_is_401(as_user, people):
    from gridgov.accounts.models import User

    created = as_user(people.staff_a).post("/accounts/tokens", {"name": "sync"}).json()
    User.objects.filter(pk=people.staff_a.pk).update(is_active=False)
    assert Api(token=created["secret"]).get("/auth/me").status_code == 401


def test_tokens_are_the_owners_own(as_user, people):
    created = as_user(people.staff_a).post("/accounts/tokens", {"name": "sync"}).json()
    other = as_user(people.staff_b)
    assert other.get("/accounts/tokens").json()["count"] == 0
    assert other.delete(f"/accounts/tokens/{created['id']}").status_code == 404
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is None


def test_token_name_is_required(as_user, people):
    response = as_user(people.staff_a).post("/accounts/tokens", {"name": ""})
    assert response.status_code == 422
