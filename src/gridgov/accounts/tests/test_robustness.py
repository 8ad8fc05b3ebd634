"""Hostile input answers 4xx problem documents, never a server error, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "path,params",
    [
        ("/accounts/users", {"page": 10**30}),
        ("/accounts/users", {"page": 0}),
        ("/accounts/users", {"page_size": 10**30}),
        ("/accounts/users", {"q": "a\x00b"}),
        ("/accounts/users/" + HUGE, {}),
        ("/accounts/users/-1", {}),
        ("/accounts/organisations/a%00b", {}),
        ("/accounts/organisations", {"kind": "nonsense"}),
        ("/accounts/audit", {"username": "\x00"}),
        ("/accounts/audit", {"date_from": "yesterday"}),
    ],
)
def test_hostile_reads(as_user, people, path, params):
    for user in (people.admin, people.auditor):
        response = as_user(user).get(path, params)
        assert response.status_code in (403, 404, 422), (path, params, response.status_code)
        assert response["Content-Type"] == "application/problem+json"


def test_hostile_writes(as_user, api, people):
    admin = as_user(people.admin)
    assert admin.post("/accounts/tokens", {"name": "a\x00b"}).status_code == 422
    assert admin.post("/accounts/tokens", {"name": "\ud800"}).status_code == 422
    assert admin.delete("/accounts/tokens/" + HUGE).status_code == 422
    assert admin.patch("/accounts/users/" + HUGE, {"display_name": "x"}).status_code == 422
    assert (
        admin.post("/accounts/users", {"username": "x\x00", "password": "Neu-Passw0rd!"}).status_code == 422
    )
    assert admin.patch(f"/accounts/users/{people.admin.pk}", {"is_active": False}).status_code == 422
    assert admin.patch(f"/accounts/users/{people.staff_a.pk}", {"display_name": None}).status_code == 422
    response = api.login("a\x00b", "x")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert api.post("/auth/login", {"username": "x"}).status_code == 422
    assert api.client.post("/api/v1/auth/login", "not json", content_type="application/json").status_code in (
        400,
        422,
    )
