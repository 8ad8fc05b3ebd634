"""Administration in the browser: the security administrator unlocks a grid worker locked out by failed
logins, who then logs in; the system administrator creates a user, who must choose their own password at
the first login. Also: the login page of the demo names the demo password, and the top bar's 动态口令
shows a QR code."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import re
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .conftest import PASSWORD, Server, login_desktop, login_phone, shot

# Logins other browser tests use (a lockout, a reset password): this module takes others.
SHANGHAI = ZoneInfo("Asia/Shanghai")
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


# The users of the tests below (one each; no other browser test logs in as them).
DISABLED = "community_staff-440309002002-2"
WITH_TOTP = "grid_worker-440309002002004-2"
PII_READER = "community_staff-440309002003-2"


def _find_user(page, username: str) -> None:
    page.get_by_test_id("users-q").fill(username)
    page.get_by_test_id("users-search").click()
    expect(page.get_by_test_id(f"user-{username}")).to_be_visible()


def test_system_administrator_disables_and_enables_a_user(server, new_context):
    user = DISABLED
    assert _login_status(server, user, PASSWORD)[0] == 200
    page = login_desktop(new_context("desktop"), server, _first(server, "admin"), "/app/admin/users")
    _find_user(page, user)
    table = page.get_by_test_id("users-table")
    row = table.locator("tr", has=page.get_by_test_id(f"user-{user}"))
    expect(row).to_contain_text("启用")

    # 停用 asks first; 取消 changes nothing.
    page.get_by_test_id(f"toggle-{user}").click()
    expect(page.locator(".el-message-box")).to_contain_text("无法登录")
    page.locator(".el-message-box__btns .el-button").filter(has_text="取消").click()
    assert _login_status(server, user, PASSWORD)[0] == 200

    page.get_by_test_id(f"toggle-{user}").click()
    _confirm(page)
    expect(page.locator(".el-message--success")).to_be_visible()
    expect(row).to_contain_text("停用")
    expect(page.get_by_test_id(f"toggle-{user}")).to_have_text("启用")

    # The disabled user is refused at the login page, with a message that names the possibility.
    refused = new_context("desktop").new_page()
    refused.goto(f"{server.url}/app/login")
    refused.locator("#login-username").fill(user)
    refused.locator("#login-password").fill(PASSWORD)
    refused.get_by_test_id("login-submit").click()
    expect(refused.get_by_test_id("login-error")).to_contain_text("账号已停用")
    assert "/app/login" in refused.url
    assert _login_status(server, user, PASSWORD)[0] == 401

    # 启用 again: the user logs in.
    page.get_by_test_id(f"toggle-{user}").click()
    expect(page.locator(".el-message-box")).to_contain_text("重新启用")
    _confirm(page)
    expect(page.get_by_test_id(f"toggle-{user}")).to_have_text("停用")
    again = login_desktop(new_context("desktop"), server, user)
    expect(again.get_by_test_id("user-name")).to_be_visible()


def test_security_administrator_resets_a_second_factor(server, new_context):
    import pyotp

    from gridgov.accounts import otp

    user = WITH_TOTP
    own = server.api(user)
    secret = own.post("/api/v1/auth/totp/setup", {})["secret"]
    code = pyotp.TOTP(secret).generate_otp(otp.current_step(secret))
    assert own.post("/api/v1/auth/totp/confirm", {"code": code})["totp_enabled"] is True
    status, body = _login_status(server, user, PASSWORD)
    assert status == 401 and body["type"].endswith("/totp-required")

    page = login_desktop(new_context("desktop"), server, _first(server, "security_admin"), "/app/admin/users")
    _find_user(page, user)
    row = page.get_by_test_id("users-table").locator("tr", has=page.get_by_test_id(f"user-{user}"))
    expect(row).to_contain_text("已绑定")
    page.get_by_test_id(f"totp-reset-{user}").click()
    expect(page.locator(".el-message-box")).to_contain_text("重置")
    _confirm(page)
    expect(page.locator(".el-message--success")).to_be_visible()
    expect(page.get_by_test_id(f"totp-reset-{user}")).to_have_count(0)
    expect(row).not_to_contain_text("已绑定")

    # The user logs in with the password alone, and the reset is on the login records.
    login_desktop(new_context("desktop"), server, user)
    page.goto(f"{server.url}/app/admin/security")
    page.get_by_role("tab", name="登录与锁定记录").click()
    expect(page.get_by_test_id("records-table")).to_contain_text("重置动态口令")


def _reveal(server: Server, user: str) -> dict:
    """A resident of the user's community asked for with reveal=true."""
    api = server.api(user)
    first = api.get("/api/v1/registry/residents?page_size=1")["items"][0]
    return api.get(f"/api/v1/registry/residents/{first['id']}?reveal=true")


def test_security_administrator_grants_and_revokes_personal_data(server, new_context):
    user = PII_READER
    community = user.split("-")[1]
    before = _reveal(server, user)
    assert "id_number" in before["masked"] and "*" in before["id_number"]  # no ID numbers without a grant

    page = login_desktop(
        new_context("desktop"), server, _first(server, "security_admin"), "/app/admin/security"
    )
    page.get_by_role("tab", name="敏感信息授权").click()
    page.get_by_test_id("grant-create").click()
    dialog = page.get_by_test_id("grant-dialog")
    # Without a reason the server refuses, under the field, and nothing is granted.
    page.locator("#pii-user").fill(user)
    page.get_by_role("option", name=re.compile(re.escape(user))).first.click()
    page.get_by_test_id("pii-field").click()
    page.get_by_role("option", name="身份证号").click()
    page.locator("#pii-area").fill(community)
    page.get_by_role("option", name=re.compile(f"{community}）")).first.click()
    expires = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=30)).replace(hour=18, minute=0, second=0)
    page.locator("#pii-expires").fill(expires.strftime("%Y-%m-%d %H:%M:%S"))
    page.locator("#pii-expires").press("Enter")
    page.get_by_test_id("pii-submit").click()
    expect(page.get_by_test_id("pii-reason-item").locator(".el-form-item__error")).not_to_be_empty()
    assert "*" in _reveal(server, user)["id_number"]

    page.locator("#pii-reason").fill("入户核查专项工作")
    page.get_by_test_id("pii-submit").click()
    expect(dialog).to_be_hidden()
    security = server.api(_first(server, "security_admin"))
    grant = next(
        g for g in security.get("/api/v1/registry/pii-grants?page_size=200")["items"]
        if g["username"] == user and not g["revoked_at"]
    )  # fmt: skip
    assert (grant["field"], grant["area_code"]) == ("id_number", community)
    assert dt.datetime.fromisoformat(grant["expires_at"]) == expires.replace(microsecond=0)
    expect(page.get_by_test_id(f"grant-{grant['id']}")).to_have_attribute("data-state", "active")

    # The grantee now reads the ID number in full.
    after = _reveal(server, user)
    assert "id_number" not in after["masked"] and "*" not in after["id_number"]

    # 撤销 takes it away.
    page.get_by_test_id(f"grant-revoke-{grant['id']}").click()
    _confirm(page)
    expect(page.get_by_test_id(f"grant-{grant['id']}")).to_have_attribute("data-state", "revoked")
    assert "*" in _reveal(server, user)["id_number"]


def test_system_administrator_creates_and_renames_a_department(server, new_context):
    page = login_desktop(new_context("desktop"), server, _first(server, "admin"), "/app/admin/organisations")
    admin = server.api(_first(server, "admin"))
    taken = admin.get("/api/v1/accounts/organisations?kind=department&page_size=1")["items"][0]
    count = admin.get("/api/v1/accounts/organisations?page_size=1")["count"]

    page.get_by_test_id("org-create").click()
    dialog = page.get_by_test_id("org-dialog")
    # A code another organisation has and no name: the server's reasons under the fields, nothing made.
    page.locator("#org-code").fill(taken["code"])
    page.locator("#org-area").fill("440309002")
    page.get_by_role("option", name=re.compile("440309002）")).first.click()
    page.get_by_test_id("org-submit").click()
    expect(page.get_by_test_id("org-name-item").locator(".el-form-item__error")).to_be_visible()
    page.locator("#org-name").fill("应急管理办公室")
    page.get_by_test_id("org-submit").click()
    expect(page.get_by_test_id("org-code-item").locator(".el-form-item__error")).to_have_text(
        "已有其他单位使用该编码。"
    )
    expect(page.get_by_test_id("org-name-item").locator(".el-form-item__error")).to_have_count(0)
    assert admin.get("/api/v1/accounts/organisations?page_size=1")["count"] == count

    page.locator("#org-code").fill("E2E-YJB")
    page.get_by_test_id("org-submit").click()
    expect(dialog).to_be_hidden()
    table = page.get_by_test_id("orgs-table")
    expect(table).to_contain_text("应急管理办公室")
    expect(table).to_contain_text("E2E-YJB")

    # Renamed: an empty name is refused under the field, then the new name is in the list.
    page.get_by_test_id("org-edit-E2E-YJB").click()
    expect(page.locator("#org-name")).to_have_value("应急管理办公室")
    page.locator("#org-name").fill("")
    page.get_by_test_id("org-submit").click()
    expect(page.get_by_test_id("org-name-item").locator(".el-form-item__error")).to_be_visible()
    page.locator("#org-name").fill("应急管理局")
    page.get_by_test_id("org-submit").click()
    expect(dialog).to_be_hidden()
    expect(table).to_contain_text("应急管理局")
    saved = admin.get("/api/v1/accounts/organisations?q=E2E-YJB")["items"]
    assert [(o["code"], o["name"], o["area_code"]) for o in saved] == [("E2E-YJB", "应急管理局", "440309002")]
    assert admin.get("/api/v1/accounts/organisations?page_size=1")["count"] == count + 1
