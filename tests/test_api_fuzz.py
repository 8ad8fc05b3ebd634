"""Property-based fuzzing of every endpoint in the OpenAPI document (schemathesis, positive and negative
inputs), as each role that can reach the operation: no input ever causes a server error, every refusal is
a problem+json that says what is wrong, and every answer conforms to the schema the document gives.

A role "reaches" an operation when its first call is not refused as unauthorised/forbidden (401/403);
later examples of that operation are sent only as the roles that reach it, so registry operations are
fuzzed as community staff and grid workers, administration as the administrators, and so on.

Examples per operation: GRIDGOV_FUZZ_EXAMPLES (default 8, generated inputs only; e.g.
`GRIDGOV_FUZZ_EXAMPLES=200 make test` for a long run that adds schemathesis' boundary-value cases)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from gridgov.accounts.roles import Role
from gridgov.testing import (
    build_world,
    fresh_locator,
    immediate_tasks,
    in_process_requests,
    make_token,
    make_user,
    user_of_role,
)

EXAMPLES = int(os.environ.get("GRIDGOV_FUZZ_EXAMPLES", "8"))
# A short run only generates; a long one (more than 8 examples) also sends the document's examples and
# schemathesis' boundary-value ("coverage") cases, which are many per operation and each sent per role.
PHASES = [Phase.generate] if EXAMPLES <= 8 else [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]


def _schema():
    from gridgov.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


schema = _schema()


@pytest.fixture(scope="module")
def tokens(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small world with residents, a unit and cases in community A, and an API token for a user of
    every role there; made once for the module inside a transaction that is rolled back at its end."""
    from tests.test_scope_leaks import populate

    with django_db_blocker.unblock(), fresh_locator(), immediate_tasks(), transaction.atomic():
        world = build_world()
        admin = make_user("fuzz-sysadmin", Role.ADMIN)
        security = make_user("fuzz-secadmin", Role.SECURITY_ADMIN)
        populate(world, "a", admin, security)
        populate(world, "b", admin, security)
        secrets = {Role.ADMIN.value: make_token(admin, "gg_fuzz-admin")}
        for role in Role:
            if role.value not in secrets:
                user = user_of_role(role.value, world, "a", username=f"fuzz-{role.value}")
                secrets[role.value] = make_token(user, f"gg_fuzz-{role.value}")
        yield secrets
        transaction.set_rollback(True)


@pytest.fixture
def fuzz_as(db, tokens, settings, tmp_path):
    """Which roles reach each operation, learnt from the first example."""
    settings.DATA_DIR = tmp_path
    reach: dict[str, list[str]] = {}
    with in_process_requests(), fresh_locator(), immediate_tasks():
        yield tokens, reach


def _check(case, response, role: str) -> None:
    where = f"as {role}: {case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), (
            f"{where} → {response.status_code} {content_type}"
        )
        body = response.json()
        assert body["status"] == response.status_code and body["detail"], where
    case.validate_response(response, checks=[response_schema_conformance])


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_no_input_causes_a_server_error(case, fuzz_as):
    tokens, reach = fuzz_as
    label = f"{case.method} {case.path}"
    if label not in reach:
        reach[label] = []
        for role, secret in tokens.items():
            response = case.call(headers={"Authorization": f"Bearer {secret}"})
            _check(case, response, role)
            if response.status_code not in (401, 403):
                reach[label].append(role)
        return
    for role in reach[label] or [Role.ADMIN.value]:
        response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
        _check(case, response, role)
