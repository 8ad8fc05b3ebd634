"""What the action dialogs tell the dispatcher before they act (issue 13, finding 14): the whistle dialog
names the departments a whistle item summons, and the close dialog shows the category's closing standard
(结案标准). Both dialogs are closed again without acting: the cases keep their state."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import login_desktop

STAFF = "community_staff-440309002001-1"
COMMUNITY = "440309002001"


def _case_offering(api, status: str, action: str) -> dict:
    """A demo case of the community in `status` on which the dispatcher is offered `action`."""
    page = api.get(f"/api/v1/cases/cases?status={status}&area={COMMUNITY}&page_size=50")
    for row in page["items"]:
        detail = api.get(f"/api/v1/cases/cases/{row['id']}")
        if action in [a["action"] for a in detail["actions"]]:
            return detail
    raise AssertionError(f"the demo has no {status} case offering {action} in {COMMUNITY}")


def _close_dialog(page) -> None:
    page.get_by_test_id("action-dialog").locator(".el-dialog__headerbtn").click()
    expect(page.get_by_test_id("action-dialog")).to_be_hidden()


def test_the_whistle_dialog_names_the_departments_an_item_summons(server, new_context):
    staff = server.api(STAFF)
    made = staff.post(
        "/api/v1/cases/cases",
        {
            "description": "小区门口井盖缺失，夜间行人易踩空",
            "address": "民治一区1栋门口",
            "reporter_name": "陈先生",
            "area_code": f"{COMMUNITY}001",
        },
    )
    detail = staff.get(f"/api/v1/cases/cases/{made['id']}")
    staff.post(
        f"/api/v1/cases/cases/{made['id']}/actions/accept",
        {"version": detail["version"], "category_code": "C0104"},
    )
    case = staff.get(f"/api/v1/cases/cases/{made['id']}")
    assert "whistle" in [a["action"] for a in case["actions"]], case["actions"]
    item = staff.get("/api/v1/cases/whistle-items")[0]
    names = [server.api("admin-440309").get(f"/api/v1/accounts/organisations/{c}")["name"]
             for c in item["department_codes"]]  # fmt: skip
    assert names, item

    ctx = new_context("desktop")
    page = login_desktop(ctx, server, STAFF, f"/app/cases/{case['id']}")
    page.get_by_test_id("action-whistle").click()
    dialog = page.get_by_test_id("action-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("whistle-summons")).to_have_count(0)  # no item chosen: nothing to name
    page.locator("#action-whistle_item_id").click()
    page.get_by_role("option", name=f"{item['group']} · {item['name']}").click()
    summons = page.get_by_test_id("whistle-summons")
    expect(summons).to_contain_text("该事项将召集")
    for name in names:
        expect(summons).to_contain_text(name)
    _close_dialog(page)
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-status", "accepted")
    ctx.close()


def test_the_close_dialog_shows_the_categorys_closing_standard(server, new_context):
    staff = server.api(STAFF)
    case = _case_offering(staff, "verified", "close")
    categories = staff.get("/api/v1/cases/categories")
    leaves = {c["code"]: c for top in categories for c in top["children"]}
    standard = leaves[case["category_code"]]["close_condition"]
    assert standard.strip(), case["category_code"]

    ctx = new_context("desktop")
    page = login_desktop(ctx, server, STAFF, f"/app/cases/{case['id']}")
    page.get_by_test_id("action-close").click()
    expect(page.get_by_test_id("action-dialog")).to_be_visible()
    shown = page.get_by_test_id("close-condition")
    expect(shown).to_contain_text("结案标准")
    expect(shown).to_contain_text(re.sub(r"\s+", " ", standard.strip())[:40])
    _close_dialog(page)
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-status", "verified")
    ctx.close()
