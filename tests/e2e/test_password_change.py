"""A password set by an administrator: the login screens (desktop and phone) ask the user for their own
before anything else, and the app goes on once it is changed."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from .conftest import Api, Server

RESET = "Reset-Passw0rd!"


def _admin_sets_password(server: Server, username: str) -> None:
    admin_name = next(x["username"] for x in server.logins if x["role"] == "admin")
    admin = Api(server.url, admin_name)
    users = admin.get(f"/api/v1/accounts/users?q={username}")["items"]
    user_id = next(u["id"] for u in users if u["username"] == username)
    request = urllib.request.Request(
        f"{server.url}/api/v1/accounts/users/{user_id}",
        data=json.dumps({"password": RESET}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": admin._csrf(), "Referer": server.url},
        method="PATCH",
    )
    with admin.opener.open(request, timeout=30) as response:
        assert response.status == 200


def _login(server: Server, username: str, password: str) -> dict:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar := http.cookiejar.CookieJar())
    )
    opener.open(f"{server.url}/api/v1/auth/csrf", timeout=30).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    request = urllib.request.Request(
        f"{server.url}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": server.url},
        method="POST",
    )
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("kind", ["desktop", "phone"])
def test_an_administrator_set_password_is_changed_at_login(server, new_context, kind):
    residents = [x["username"] for x in server.logins if x["role"] == "resident"]
    username = residents[-1] if kind == "desktop" else residents[-2]
    _admin_sets_password(server, username)
    page = new_context(kind).new_page()
    if kind == "desktop":
        page.goto(f"{server.url}/app/login")
        page.locator("#login-username").fill(username)
        page.locator("#login-password").fill(RESET)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("change-form")).to_be_visible()
        expect(page.get_by_test_id("change-form")).to_contain_text("管理员")
        page.locator("#change-new").fill("Own-Choice-42!")
        page.locator("#change-confirm").fill("Own-Choice-42!")
        page.get_by_test_id("change-submit").click()
        page.wait_for_url("**/app/workbench")
    else:
        page.goto(f"{server.url}/m/login")
        page.locator("#m-username").fill(username)
        page.locator("#m-password").fill(RESET)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("change-form")).to_be_visible()
        page.locator("#m-change-new").fill("Own-Choice-42!")
        page.locator("#m-change-confirm").fill("Own-Choice-42!")
        page.get_by_test_id("change-submit").click()
        page.wait_for_url(lambda u: "/m/login" not in u)
    assert _login(server, username, "Own-Choice-42!")["password_change_required"] is False
