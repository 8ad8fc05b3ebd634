"""Staffing and AB岗 in the browser: the grid page lists the grid chief and the grid workers with masked
phones; a grid chief records a leave with their backup, and the backup, logged in, finds the chief's
to-do marked 代班 on the workbench and on the phone's 我的 page sees whom they stand in for; the chief
then hands the leave to another colleague, whose check on site the timeline shows as done for the chief."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .conftest import login_desktop, login_phone, shot

COMMUNITY_STAFF = "community_staff-440309002001-1"
GRID = "440309002001002"
MASKED = re.compile(r"^1\d{2}\*{4}\d{4}$")


def test_the_grid_page_lists_the_grid_chief_and_workers_with_masked_phones(server, new_context):
    staff = server.api(COMMUNITY_STAFF)
    grid = staff.get("/api/v1/territory/areas?level=grid&page_size=1")["items"][0]
    page = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/territory")
    page.get_by_test_id("grid-table").get_by_text(grid["code"], exact=True).click()
    staff_list = page.get_by_test_id("staff-list")
    expect(staff_list.get_by_test_id("staff-post-grid_chief")).to_have_count(1)
    expect(staff_list.get_by_test_id("staff-post-grid_worker")).to_have_count(1)
    expect(staff_list.get_by_test_id("staff-post-block_chief")).to_have_count(1)
    expect(staff_list.get_by_test_id("staff-post-building_head")).to_have_count(1)
    phones = staff_list.get_by_test_id("staff-phone")
    expect(phones.first).to_have_text(MASKED)
    for text in phones.all_inner_texts():
        assert MASKED.match(text.strip()) or text.strip() == "—", text
    expect(page.get_by_test_id("staff-population")).to_contain_text("居民")
    staff_list.scroll_into_view_if_needed()
    shot(server, page, "staffing-grid-desktop")
    # Full numbers only on request (and logged): community staff may.
    page.get_by_test_id("staff-reveal").click()
    expect(phones.first).to_have_text(re.compile(r"^1\d{10}$"))


def test_a_chief_on_leave_hands_their_to_do_to_the_backup_marked_daiban(server, new_context):
    # A case the community handled itself, waiting for the grid worker's check on site (made here, so the
    # test does not depend on what the demo or earlier tests left in that state).
    staff = server.api(COMMUNITY_STAFF)
    case = staff.post(
        "/api/v1/cases/cases",
        {
            "description": f"单元门禁损坏，需现场核查（e2e {int(time.time() * 1000)}）",
            "channel": "window",
            "reporter_name": "李先生",
            "area_code": GRID,
            "category_code": "C0104",
        },
    )
    for action, fields in (("accept", {}), ("community_handle", {}), ("handle", {"note": "已更换门禁"})):
        version = staff.get(f"/api/v1/cases/cases/{case['id']}")["version"]
        staff.post(f"/api/v1/cases/cases/{case['id']}/actions/{action}", {"version": version, **fields})
    assert staff.get(f"/api/v1/cases/cases/{case['id']}")["status"] == "handled"
    chief = f"grid_worker-{GRID}"
    a_api = server.api(chief)
    me = a_api.get("/api/v1/auth/me")
    backup = a_api.get(f"/api/v1/accounts/posts/{me['id']}")["backup"]["username"]  # the next grid's chief

    # A (the grid chief) records a leave from now on, with the standing backup, from the user menu.
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, chief)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("menu-post").click()
    dialog = page.get_by_test_id("post-dialog")
    expect(dialog.get_by_test_id("backup-select")).to_contain_text(backup)  # the demo's standing B
    _type(dialog, "leave-start", "2020-01-01 08:00")
    _type(dialog, "leave-end", "2099-12-31 18:00")
    dialog.get_by_test_id("record-leave").click()
    # The server refuses a leave that long, in Chinese, under the field; a week is fine.
    expect(dialog).to_contain_text("最长一年")
    _type(dialog, "leave-start", _local(days=-1))
    _type(dialog, "leave-end", _local(days=6))
    dialog.get_by_test_id("record-leave").click()
    expect(dialog.get_by_test_id("leave-table")).to_contain_text("请假中")
    shot(server, page, "staffing-leave-desktop")
    page.close()

    # B logs in: A's to-do is on B's workbench, marked 代班 with A's name.
    b_page = login_desktop(new_context("desktop"), server, backup)
    row = b_page.get_by_test_id("todo-table").locator(
        "tr", has=b_page.get_by_test_id(f"todo-{case['number']}")
    )
    expect(row.get_by_test_id("todo-on-behalf")).to_contain_text("代班")
    shot(server, b_page, "staffing-daiban-desktop")
    # B may act on it: the case page offers B the check on site.
    b_page.get_by_test_id(f"todo-{case['number']}").click()
    expect(b_page.get_by_test_id("action-verify")).to_be_visible()

    # On the phone, B's 我的 page shows whom B stands in for.
    phone = login_phone(new_context("phone"), server, backup)
    phone.goto(f"{server.url}/m/me")
    expect(phone.get_by_test_id("m-post")).to_contain_text("代班")
    shot(server, phone, "staffing-me-phone")

    # A hands this leave to another colleague (C, a community staff member) in the leave table: the to-do
    # is C's at once, marked 代班, and no longer B's.
    post = a_api.get(f"/api/v1/accounts/posts/{me['id']}")
    a_name = post["user"]["name"]
    active = next(x for x in post["leaves"] if x["state"] == "active")
    c = next(p for p in post["candidates"] if p["username"].startswith("community_staff-"))
    page = login_desktop(new_context("desktop"), server, chief)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("menu-post").click()
    dialog = page.get_by_test_id("post-dialog")
    dialog.get_by_test_id(f"change-backup-{active['id']}").click()
    dialog.get_by_test_id("edit-backup-select").click()
    page.locator(".el-select-dropdown__item:visible", has_text=c["username"]).click()
    dialog.get_by_test_id("edit-backup-save").click()
    expect(page.get_by_text(f"已改由 {c['name']} 代班")).to_be_visible()
    expect(dialog.get_by_test_id("leave-table")).to_contain_text(c["name"])
    shot(server, page, "staffing-change-backup-desktop")
    page.close()
    b_api, c_api = server.api(backup), server.api(c["username"])
    assert case["id"] not in {
        x["id"] for x in b_api.get("/api/v1/cases/cases?todo=true&page_size=100")["items"]
    }
    c_todo = {
        x["id"]: x["on_behalf_of"] for x in c_api.get("/api/v1/cases/cases?todo=true&page_size=100")["items"]
    }
    assert c_todo.get(case["id"]) == a_name

    # C checks on site for A: the case's timeline says "C（代A）" on the desktop and on the phone.
    version = c_api.get(f"/api/v1/cases/cases/{case['id']}")["version"]
    c_api.post(f"/api/v1/cases/cases/{case['id']}/actions/verify", {"version": version, "passed": True})
    c_page = login_desktop(new_context("desktop"), server, c["username"], f"/app/cases/{case['id']}")
    expect(c_page.get_by_test_id("case-timeline")).to_contain_text(f"{c['name']}（代{a_name}）")
    shot(server, c_page, "staffing-on-behalf-timeline-desktop")
    c_phone = login_phone(new_context("phone"), server, c["username"])
    c_phone.goto(f"{server.url}/m/cases/{case['id']}")
    expect(c_phone.get_by_test_id("m-progress")).to_contain_text(f"（代{a_name}）")

    # A ends the leave (back early): nothing of A's is B's or C's any more (the verified case waits for
    # the community to close it: C's own to-do now, not marked 代班).
    a_api.post(f"/api/v1/accounts/posts/leaves/{active['id']}/end", {})
    todo = b_api.get("/api/v1/cases/cases?todo=true&page_size=100")["items"]
    assert case["id"] not in {x["id"] for x in todo}
    todo = c_api.get("/api/v1/cases/cases?todo=true&page_size=100")["items"]
    assert all(x["on_behalf_of"] == "" for x in todo)


def _type(dialog, test_id: str, text: str) -> None:
    """Type a date and time into an Element Plus date picker (its test id sits on the input itself)."""
    box = dialog.locator(f'input[data-testid="{test_id}"], [data-testid="{test_id}"] input').first
    box.fill(text)
    box.press("Enter")


def _local(**delta) -> str:
    """A local (Asia/Shanghai) time as typed into the date pickers."""
    return (dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(**delta)).strftime("%Y-%m-%d %H:%M")
