"""The closed loop in the browser: a resident reports on the phone → community staff accept and whistle →
the department reports in and handles → the grid worker verifies on the phone → community staff close →
the resident rates; the command-centre dashboard then shows the new figures. Screenshots of the main
screens on the way (1920×1080 and 390×844)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect
from shapely.geometry import shape

from .conftest import login_desktop, login_phone, photo_png, shot

GRID = "440309002001001"
COMMUNITY_STAFF = "community_staff-440309002001-1"
GRID_WORKER = f"grid_worker-{GRID}"
DEPARTMENT = "department_handler-440309-CG"
RESIDENT = "resident-440309002001-1"
LEADER = "leader-440309"


def kpi(page, key: str) -> int:
    value = page.get_by_test_id(f"kpi-{key}").get_by_test_id("kpi-value")
    expect(value).to_have_text(re.compile(r"^\d+$"))
    return int(value.inner_text())


def act(page, action: str, status: str, fill=None):
    """Open an action's form from the case page, fill it, submit, and wait for the new status."""
    page.get_by_test_id(f"action-{action}").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog).to_be_visible()
    if fill:
        fill(page)
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-status", status)


def test_closed_loop_from_phone_report_to_rating(server, new_context):
    started = time.monotonic()
    admin = server.api("admin-440309")
    grid = admin.get(f"/api/v1/territory/areas/{GRID}")
    point = shape(grid["geometry"]).representative_point()

    # The leader's dashboard before: the figures of the last 30 days.
    leader_ctx = new_context("desktop")
    leader = login_desktop(leader_ctx, server, LEADER, "/app/dashboard")
    reported_before = kpi(leader, "reported")
    closed_before = kpi(leader, "closed")

    # 1. A resident reports (随手拍) on the phone: camera photo and GPS.
    resident_ctx = new_context(
        "phone", geolocation={"longitude": point.x, "latitude": point.y}, permissions=["geolocation"]
    )
    resident = login_phone(resident_ctx, server, RESIDENT)
    resident.get_by_test_id("tab-report").click()
    # GPS answers WGS-84 and the point is sent with its CRS (a resident may not see the grid itself).
    expect(resident.get_by_test_id("m-point")).to_contain_text("wgs84")
    text = f"小区门口的路灯坏了好几天，晚上很黑，老人出行不安全（e2e {int(time.time())}）"
    resident.get_by_test_id("m-description").locator("textarea").fill(text)
    resident.get_by_test_id("m-address").locator("input").fill("民治一区1栋门口")
    resident.get_by_test_id("m-photo").locator("input[type=file]").set_input_files(
        files=[{"name": "street-light.png", "mimeType": "image/png", "buffer": photo_png()}]
    )
    expect(resident.get_by_test_id("m-report-submit")).to_be_enabled()
    shot(server, resident, "mobile-resident-report")
    resident.get_by_test_id("m-report-submit").click()
    resident.wait_for_url(re.compile(r"/m/cases/\d+$"))
    case_id = int(resident.url.rsplit("/", 1)[1])
    expect(resident.get_by_test_id("m-case")).to_have_attribute("data-status", "submitted")
    number = admin.get(f"/api/v1/cases/cases/{case_id}")["number"]

    # 2. Community staff find it among their to-dos, accept it and blow the whistle to 城管.
    staff_ctx = new_context("desktop")
    staff = login_desktop(staff_ctx, server, COMMUNITY_STAFF)
    expect(staff.get_by_test_id(f"todo-{number}")).to_be_visible()
    shot(server, staff, "desktop-workbench")
    staff.get_by_test_id(f"todo-{number}").click()
    expect(staff.get_by_test_id("case-detail")).to_have_attribute("data-status", "submitted")
    expect(staff.get_by_test_id("photo-list").first.locator("img")).to_have_count(1)
    shot(server, staff, "desktop-case-detail")
    # The community's dispatchers call the reporter back: they see the phone at once, and the screen says
    # the view is logged (finding 16; everybody else sees it masked).
    expect(staff.get_by_test_id("reporter-phone")).to_have_text(re.compile(r"^1\d{10}$"))
    expect(staff.get_by_test_id("reveal-logged")).to_contain_text("已记入个人信息访问日志")
    expect(staff.get_by_test_id("reveal-phone")).to_have_count(0)

    def choose_category(page):
        page.locator("#action-category_code").fill("C0104")
        page.get_by_role("option", name=re.compile("C0104")).first.click()

    act(staff, "accept", "accepted", choose_category)

    def choose_department(page):
        page.locator("#action-departments").fill("城市管理")
        page.get_by_role("option", name=re.compile("城市管理")).first.click()
        page.get_by_test_id("field-note").fill("请城管局报到处置")

    act(staff, "whistle", "whistled", choose_department)
    expect(staff.get_by_test_id("case-steps")).to_contain_text("城市管理")

    # 3. The department reports in and handles.
    dept_ctx = new_context("desktop")
    dept = login_desktop(dept_ctx, server, DEPARTMENT, f"/app/cases/{case_id}")
    expect(dept.get_by_test_id("case-detail")).to_have_attribute("data-status", "whistled")
    expect(dept.get_by_test_id("action-accept")).to_have_count(0)  # only what the state machine allows
    act(dept, "report_in", "in_progress")

    def handle_note(page):
        page.get_by_test_id("field-note").fill("已更换路灯灯泡并检修线路，恢复照明")
        page.get_by_test_id("action-dialog").locator("input[type=file]").set_input_files(
            files=[{"name": "fixed.png", "mimeType": "image/png", "buffer": photo_png((46, 139, 87))}]
        )
        expect(page.get_by_test_id("action-dialog").locator(".uploader__item img")).to_have_count(1)

    act(dept, "handle", "handled", handle_note)
    # The photos are captioned by the stage they were taken at: the report's and the handling's (after).
    staff.reload()
    captions = staff.get_by_test_id("case-detail").get_by_test_id("photo-stage")
    expect(captions.filter(has_text="上报")).to_have_count(1)
    expect(captions.filter(has_text="处置后")).to_have_count(1)

    # 4. The grid worker verifies on site, on the phone.
    worker_ctx = new_context("phone")
    worker = login_phone(worker_ctx, server, GRID_WORKER)
    worker.wait_for_url("**/m/tasks")
    task = worker.get_by_test_id("m-verify-list").get_by_test_id(f"m-case-{number}")
    expect(task).to_be_visible()
    shot(server, worker, "mobile-grid-worker-tasks")
    task.click()
    expect(worker.get_by_test_id("m-verify")).to_be_visible()
    worker.get_by_test_id("m-verify-note").locator("textarea").fill("现场核查：路灯已亮")
    worker.get_by_test_id("m-verify-pass").click()
    expect(worker.get_by_test_id("m-case")).to_have_attribute("data-status", "verified")

    # 5. Community staff close the case.
    staff.reload()
    act(staff, "close", "closed")

    # 6. The resident sees the progress and rates the outcome.
    resident.goto(f"{server.url}/m/mine")
    mine = resident.get_by_test_id("m-my-reports").get_by_test_id(f"m-case-{number}")
    expect(mine).to_have_attribute("data-status", "closed")
    shot(server, resident, "mobile-my-reports")
    mine.click()
    expect(resident.get_by_test_id("m-rate")).to_be_visible()
    resident.get_by_test_id("m-rate-stars").get_by_role("radio").nth(4).click()
    resident.get_by_test_id("m-rate-comment").locator("textarea").fill("处理很及时，谢谢！")
    expect(resident.get_by_test_id("m-rate-submit")).to_be_enabled()
    shot(server, resident, "mobile-rating")
    resident.get_by_test_id("m-rate-submit").click()
    expect(resident.get_by_test_id("m-case")).to_have_attribute("data-status", "rated")
    expect(resident.get_by_test_id("m-case-satisfaction")).to_contain_text("5")
    expect(resident.get_by_test_id("m-progress")).to_contain_text("回访评价")

    # 7. The dashboard shows the new figures.
    leader.reload()
    expect(leader.get_by_test_id("kpi-reported").get_by_test_id("kpi-value")).to_have_text(
        str(reported_before + 1)
    )
    expect(leader.get_by_test_id("kpi-closed").get_by_test_id("kpi-value")).to_have_text(
        str(closed_before + 1)
    )
    expect(leader.get_by_test_id("area-ranking").locator("li")).not_to_have_count(0)
    leader.wait_for_load_state("networkidle")
    shot(server, leader, "desktop-dashboard")

    detail = admin.get(f"/api/v1/cases/cases/{case_id}")
    assert detail["status"] == "rated" and detail["satisfaction"] == 5
    actions = [e["action"] for e in detail["timeline"]]
    for action in ("submit", "accept", "whistle", "report_in", "handle", "verify", "close", "return_visit"):
        assert action in actions
    assert detail["input_crs"] == "wgs84"
    assert time.monotonic() - started < 180


def test_main_desktop_screens(server, new_context):
    """Login (with the lockout message), case list, intake and the territory map, for the screenshots."""
    ctx = new_context("desktop")
    page = ctx.new_page()
    page.goto(f"{server.url}/app/login")
    shot(server, page, "desktop-login")
    # Five wrong passwords lock the account. A wrong password, an unknown and a locked account get one
    # and the same message (no username enumeration); it says that the account may be locked for a while.
    for _ in range(6):
        page.locator("#login-username").fill("resident-440309002001-3")
        page.locator("#login-password").fill("wrong-password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page.get_by_test_id("login-error")).to_contain_text("锁定")

    page = login_desktop(ctx, server, COMMUNITY_STAFF, "/app/cases")
    expect(page.get_by_test_id("user-area")).to_contain_text("民治社区")
    expect(page.get_by_test_id("case-table").locator("tbody tr").first).to_be_visible()
    shot(server, page, "desktop-case-list")

    # Excel export of the filtered list.
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.goto(f"{server.url}/app/territory")
    expect(page.get_by_test_id("grid-table").locator("tbody tr")).to_have_count(7)
    page.get_by_test_id("map-indicator").get_by_text("在办案件").click()
    page.get_by_test_id("grid-table").locator("tbody tr").first.click()
    expect(page.get_by_test_id("building-table").locator("tbody tr").first).to_be_visible()
    shot(server, page, "desktop-territory")

    # English is in the user menu, and stays chosen: it is kept on the account and applied at login.
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("menu-territory")).to_have_text("Territory")
    fresh = new_context("desktop")  # another browser: nothing chosen there, the account remembers
    other = login_desktop(fresh, server, COMMUNITY_STAFF, "/app/territory")
    expect(other.get_by_test_id("menu-territory")).to_have_text("Territory")
    other.get_by_test_id("user-menu").click()
    other.get_by_test_id("lang-zh-CN").click()
    expect(other.get_by_test_id("menu-territory")).to_have_text("网格底座")
