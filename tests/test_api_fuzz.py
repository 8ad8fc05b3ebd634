"""Property-based fuzzing of every endpoint in the OpenAPI document (schemathesis, positive and negative
inputs): no input ever causes a server error, and every refusal is a problem+json that says what is wrong."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from gridgov.accounts.models import ApiToken, Membership, User
from gridgov.accounts.services import hash_token

TOKEN = "gg_fuzz-token-for-the-system-administrator"


def _schema():
    from gridgov.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


schema = _schema()


@pytest.fixture
def in_process_requests():
    """Requests run in the test's own thread and transaction: keep Django from closing the test's
    database connection at the end of each request (its test client does the same)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(db, in_process_requests):
    user = User.objects.create_user("fuzz-admin", password="Fuzz@2026-admin")
    Membership.objects.create(user=user, role="admin")
    ApiToken.objects.create(user=user, name="fuzz", prefix=TOKEN[:8], token_hash=hash_token(TOKEN))
    return TOKEN


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_causes_a_server_error(case, admin_token):
    response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
    where = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), (
            f"{where} → {response.status_code} {content_type}"
        )
        body = response.json()
        assert body["status"] == response.status_code and body["detail"], where
