"""Fixtures shared by the cross-cutting tests: the small demo district, logged-in clients."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small demo district (1 subdistrict, 3 communities, ≈9,000 households), generated once per
    module and removed afterwards."""
    from gridgov.demo.services import generate

    with django_db_blocker.unblock():
        result = generate(
            "small", reset=True, data_dir=tmp_path_factory.mktemp("demo"), log=lambda *a, **k: None
        )
    yield result
    with django_db_blocker.unblock():
        from gridgov.demo.services import delete_demo

        delete_demo()


def login_of(demo, role: str, *, area_prefix: str | None = None, not_area_prefix: str | None = None) -> dict:
    """The first demo login of a role, optionally inside (or outside) an area code prefix."""
    for login in demo.logins:
        if login["role"] != role:
            continue
        code = login.get("area_code") or ""
        if area_prefix and not code.startswith(area_prefix):
            continue
        if not_area_prefix and code.startswith(not_area_prefix):
            continue
        return login
    raise LookupError(role)


@pytest.fixture
def login_client(client):
    def _login(username: str, password: str):
        response = client.post(
            "/api/v1/auth/login",
            {"username": username, "password": password},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return client

    return _login
