"""Property-based fuzzing of every endpoint in the OpenAPI document (schemathesis, positive and negative
inputs), as each role that can reach the operation: no input ever causes a server error, every refusal is
a problem+json that says what is wrong, and every answer conforms to the schema the document gives.

A role "reaches" an operation when its first call is not refused as unauthorised/forbidden (401/403);
later examples of that operation are sent only as the roles that reach it, so registry operations are
fuzzed as community staff and grid workers, administration as the administrators, and so on.

On the first example of each operation, every string or date parameter (query, path and JSON body) is
also sent with awkward values, as every role that reaches the operation: dates at the ends of Python's
calendar (0001-01-01, 9999-12-31, with a time and a zone) and digits of other scripts (١٢٣٤٥٦, full-width
１２３４５６), which were server errors once (a day or a zone added past year 9999, non-ASCII digits in a
TOTP comparison).

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


# Awkward values for every string or date parameter.
STRANGE = (
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59+14:00",
    "١٢٣٤٥٦",
    "１２３４５６",
)
RAW = schema.raw_schema


def _resolve(node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target: dict = RAW
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _stringish(node: dict) -> bool:
    node = _resolve(node or {})
    if node.get("type") == "string" and "enum" not in node:
        return True
    return any(_stringish(sub) for sub in node.get("anyOf", []) + node.get("allOf", []))


def _string_targets(case) -> list[tuple[str, str]]:
    """(location, name) of every string or date parameter of the operation: query, path, JSON body."""
    operation = RAW["paths"].get(case.path, {}).get(case.method.lower(), {})
    targets = [
        (p["in"], p["name"])
        for p in operation.get("parameters", [])
        if p.get("in") in ("query", "path") and _stringish(p.get("schema", {}))
    ]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body and isinstance(case.body, dict):
        targets += [
            ("body", name) for name, sub in _resolve(body).get("properties", {}).items() if _stringish(sub)
        ]
    return targets


def _strange_calls(case, role: str, secret: str) -> None:
    """Each string or date parameter in turn set to each awkward value, the rest as generated."""
    query, path, body = dict(case.query or {}), dict(case.path_parameters or {}), case.body
    try:
        for location, name in _string_targets(case):
            for value in STRANGE:
                case.query, case.path_parameters = dict(query), dict(path)
                case.body = dict(body) if isinstance(body, dict) else body
                {"query": case.query, "path": case.path_parameters, "body": case.body}[location][name] = value
                response = case.call(headers={"Authorization": f"Bearer {secret}"})
                _check(case, response, role, conformance=False)
    finally:
        case.query, case.path_parameters, case.body = query, path, body


def _check(case, response, role: str, *, conformance: bool = True) -> None:
    where = f"as {role}: {case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/problem+json"), (
            f"{where} → {response.status_code} {content_type}"
        )
        body = response.json()
        assert body["status"] == response.status_code and body["detail"], where
    if conformance:
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
        # The awkward values go in as one role that reaches the operation (the short run) or as every
        # such role (the long run): the inputs are parsed alike for all, the long run checks it.
        for role in reach[label] if EXAMPLES > 8 else reach[label][:1]:
            _strange_calls(case, role, tokens[role])
        return
    for role in reach[label] or [Role.ADMIN.value]:
        response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
        _check(case, response, role)
