"""Administration in the browser: the security administrator unlocks a grid worker locked out by failed
logins, who then logs in; the system administrator creates a user, who must choose their own password at
the first login. Also: the login page of the demo names the demo password, and the top bar's 动态口令
shows a QR code."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request

from playwright.sync_api import expect

from .conftest import PASSWORD, Server, login_desktop, login_phone, shot

# Logins other browser tests use (a lockout, a reset password): this module takes others.
USED_ELSEWHERE = {"grid_worker-440309002001001", "grid_worker-440309002001003", "resident-440309002001-3"}


def _login_status(server: Server, username: str, password: str) -> tuple[int, dict]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{server.url}/api/v1/auth/csrf", timeout=30).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    request = urllib.request.Request(
        f"{server.url}/api/v1/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": server.url},
        method="POST",
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _first(server: Server, role: str) -> str:
    return next(x["username"] for x in server.logins if x["role"] == role)


def _confirm(page) -> None:
    page.locator(".el-message-box__btns .el-button--primary").click()


def test_security_administrator_unlocks_a_locked_grid_worker(server, new_context):
    workers = [x["username"] for x in server.logins if x["role"] == "grid_worker"]
    worker = next(w for w in reversed(workers) if w not in USED_ELSEWHERE)
    # Five wrong passwords lock the account: now even the right password is refused.
    for _ in range(5):
        assert _login_status(server, worker, "wrong-password")[0] == 401
    assert _login_status(server, worker, PASSWORD)[0] == 401

    ctx = new_context("desktop")
    page = ctx.new_page()
    page.goto(f"{server.url}/app/login")
    expect(page.get_by_test_id("demo-hint")).to_contain_text(PASSWORD)  # the demo is in this database
    page = login_desktop(ctx, server, _first(server, "security_admin"), "/app/admin/security")
    expect(page.get_by_test_id("menu-adminSecurity")).to_be_visible()
    expect(page.get_by_test_id("menu-adminOrganisations")).to_have_count(0)  # the system administrator's
    locks = page.get_by_test_id("locks-table")
    expect(locks).to_contain_text(worker)
    shot(server, page, "desktop-admin-security")

    # The login records show the lockout of this worker.
    page.get_by_role("tab", name="登录与锁定记录").click()
    records = page.get_by_test_id("records-table")
    expect(records).to_contain_text("登录失败次数过多，账号锁定")
    expect(records).to_contain_text(worker)

    page.get_by_role("tab", name="锁定账号").click()
    page.get_by_test_id(f"lock-unlock-{worker}").click()
    _confirm(page)
    expect(page.locator(".el-message--success")).to_be_visible()
    expect(locks).not_to_contain_text(worker)

    # The worker logs in at once.
    worker_page = login_desktop(new_context("desktop"), server, worker)
    expect(worker_page.get_by_test_id("user-name")).to_be_visible()
    # Everyone can enrol the second factor from the top bar: a QR code of the otpauth address.
    worker_page.get_by_test_id("user-menu").click()
    worker_page.get_by_test_id("menu-totp").click()
    worker_page.get_by_test_id("own-totp-start").click()
    qr = worker_page.get_by_test_id("own-totp-qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    secret = worker_page.get_by_test_id("own-totp-secret").inner_text()
    assert len(secret) >= 16 and secret.isalnum()


def test_system_administrator_creates_a_user_who_changes_the_password_at_first_login(server, new_context):
    username = "e2e-new-clerk"
    initial = "Initial-Passw0rd!"
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, _first(server, "admin"), "/app/admin/users")
    expect(page.get_by_test_id("menu-adminSecurity")).to_have_count(0)  # the security administrator's
    page.get_by_test_id("user-create").click()
    dialog = page.get_by_test_id("user-create-dialog")
    # A weak password is refused with the server's reason in Chinese, and nothing is created.
    page.locator("#new-name").fill("新文员")
    page.locator("#new-username").fill(username)
    page.locator("#new-phone").fill("13800001234")
    page.locator("#new-password").fill("weak")
    page.locator("#new-confirm").fill("weak")
    page.get_by_test_id("user-create-submit").click()
    expect(page.get_by_test_id("user-create-error")).to_contain_text("密码")
    page.locator("#new-password").fill(initial)
    page.locator("#new-confirm").fill(initial)
    page.get_by_test_id("user-create-submit").click()
    expect(dialog).to_be_hidden()
    page.get_by_test_id("users-q").fill(username)
    page.get_by_test_id("users-search").click()
    table = page.get_by_test_id("users-table")
    expect(table).to_contain_text(username)
    expect(table).to_contain_text("138****1234")
    shot(server, page, "desktop-admin-users")

    # The new user must choose their own password before anything else.
    clerk = new_context("desktop").new_page()
    clerk.goto(f"{server.url}/app/login")
    clerk.locator("#login-username").fill(username)
    clerk.locator("#login-password").fill(initial)
    clerk.get_by_test_id("login-submit").click()
    expect(clerk.get_by_test_id("change-form")).to_be_visible()
    clerk.locator("#change-new").fill("Seine-Quay-7319!")
    clerk.locator("#change-confirm").fill("Seine-Quay-7319!")
    clerk.get_by_test_id("change-submit").click()
    clerk.wait_for_url("**/app/workbench")
    status, body = _login_status(server, username, "Seine-Quay-7319!")
    assert status == 200 and body["password_change_required"] is False
    assert _login_status(server, username, initial)[0] == 401

    # Later, from the top bar: 修改密码 (a wrong current password is refused in Chinese).
    clerk.get_by_test_id("user-menu").click()
    clerk.get_by_test_id("menu-password").click()
    clerk.locator("#own-old").fill("not-my-password")
    clerk.locator("#own-new").fill("Harbour-Lamp-5821!")
    clerk.locator("#own-confirm").fill("Harbour-Lamp-5821!")
    clerk.get_by_test_id("own-password-submit").click()
    expect(clerk.get_by_test_id("own-password-error")).to_contain_text("当前密码错误")
    clerk.locator("#own-old").fill("Seine-Quay-7319!")
    clerk.get_by_test_id("own-password-submit").click()
    expect(clerk.get_by_test_id("own-password")).to_be_hidden()
    assert _login_status(server, username, "Harbour-Lamp-5821!")[0] == 200


def test_a_resident_changes_the_password_on_the_phone(server, new_context):
    residents = [x["username"] for x in server.logins if x["role"] == "resident"]
    # The last two are the administrator-reset ones of test_password_change.
    resident = next(r for r in reversed(residents[:-2]) if r not in USED_ELSEWHERE)
    page = login_phone(new_context("phone"), server, resident)
    page.goto(f"{server.url}/m/me")
    page.get_by_test_id("m-password").click()
    page.locator("#m-own-old").fill(PASSWORD)
    page.locator("#m-own-new").fill("Lantern-Quay-4410!")
    page.locator("#m-own-confirm").fill("Lantern-Quay-4410!")
    page.get_by_test_id("m-password-submit").click()
    expect(page.get_by_test_id("m-password-form")).to_be_hidden()
    assert _login_status(server, resident, "Lantern-Quay-4410!")[0] == 200
    assert _login_status(server, resident, PASSWORD)[0] == 401


def test_security_administrator_names_a_grid_chief(server, new_context):
    """A grid worker's membership holds the 网格长 post, named (and taken back) by the security
    administrator from the user's roles (a building head's building: accounts/tests/test_posts.py)."""
    workers = [x["username"] for x in server.logins if x["role"] == "grid_worker"]
    worker = next(w for w in workers if w.endswith("-2") and w not in USED_ELSEWHERE)
    page = login_desktop(new_context("desktop"), server, _first(server, "security_admin"), "/app/admin/users")
    page.get_by_test_id("users-q").fill(worker)
    page.get_by_test_id("users-search").click()
    page.get_by_test_id(f"roles-{worker}").click()
    dialog = page.get_by_test_id("user-roles-dialog")
    expect(dialog.get_by_test_id("post-grid-chief")).to_have_count(0)
    dialog.get_by_test_id("make-grid-chief").click()
    expect(dialog.get_by_test_id("post-grid-chief")).to_have_text("网格长")
    dialog.get_by_test_id("end-grid-chief").click()
    expect(dialog.get_by_test_id("post-grid-chief")).to_have_count(0)
    expect(dialog.get_by_test_id("make-grid-chief")).to_be_visible()
