"""The notices people wait for, in the browser: a supervisor issues a yellow card (黄牌) on the desktop and
the department's handler finds the notice and the case on the phone; the phone's 不通过，返工 needs a
reason and a confirmation (issue 13, findings 3, 4 and 9)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from playwright.sync_api import expect

from .conftest import login_desktop, login_phone, shot

GRID = "440309002001001"
COMMUNITY_STAFF = "community_staff-440309002001-1"
GRID_WORKER = f"grid_worker-{GRID}"
DEPARTMENT = "department_handler-440309-CG"


def _new_case(server, text: str) -> dict:
    """A case registered at the community's window (through the API, as the community's staff)."""
    staff = server.api(COMMUNITY_STAFF)
    body = {
        "description": f"{text}（e2e {int(time.time() * 1000)}）",
        "channel": "window",
        "reporter_name": "王女士",
        "area_code": GRID,
        "category_code": "C0104",
    }
    return staff.post("/api/v1/cases/cases", body)


def _act(server, username: str, case_id: int, action: str, **fields) -> dict:
    api = server.api(username)
    version = api.get(f"/api/v1/cases/cases/{case_id}")["version"]
    return api.post(f"/api/v1/cases/cases/{case_id}/actions/{action}", {"version": version, **fields})


def _overdue_first(server, case_id: int) -> None:
    """Let the department's report-in time run out, and make the case the most urgent of all (so it heads
    the deadline-ordered task lists), as the deadline sweep would find it days later."""
    code = (
        "import datetime as dt; from django.utils import timezone; from django.db.models import Min; "
        "from gridgov.cases.models import Case, Step; now = timezone.now(); "
        "first = Case.objects.aggregate(m=Min('due_at'))['m'] or now; "
        f"Step.objects.filter(case_id={case_id}).update(report_in_due_at=now - dt.timedelta(hours=2)); "
        f"Case.objects.filter(pk={case_id}).update(due_at=min(first, now) - dt.timedelta(days=1))"
    )
    env = {"GRIDGOV_DATA_DIR": str(server.data_dir)}
    import os

    done = subprocess.run(
        [sys.executable, "-m", "gridgov.cli", "manage", "shell", "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_yellow_card_reaches_the_department_handlers_notifications_and_phone(server, new_context):
    case = _new_case(server, "人行道井盖破损，行人容易绊倒")
    case_id, number = case["id"], case["number"]
    _act(server, COMMUNITY_STAFF, case_id, "accept")
    _act(server, COMMUNITY_STAFF, case_id, "whistle", departments=["440309-CG"], note="请城管局报到处置")
    _overdue_first(server, case_id)

    # The community's staff issue a yellow card (黄牌) on the desktop.
    staff = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, f"/app/cases/{case_id}")
    expect(staff.get_by_test_id("case-detail")).to_have_attribute("data-status", "whistled")
    staff.get_by_test_id("action-supervise").click()
    dialog = staff.get_by_test_id("action-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_text("黄牌督办").click()
    dialog.get_by_test_id("field-note").fill("超时未报到，请立即到场处置")
    staff.get_by_test_id("action-submit").click()
    expect(staff.get_by_test_id("case-timeline")).to_contain_text("督办")

    # The department's handler logs in on the phone: the 消息 tab shows an unread badge, the notice names
    # the case and the card, and the case heads the department's tasks with its report-in action.
    # The task list reads its page in one request: no request per case for its steps and actions.
    phone_ctx = new_context("phone")
    case_requests: list[str] = []
    phone_ctx.on(
        "request",
        lambda r: case_requests.append(r.url) if "/api/v1/cases/cases" in r.url else None,
    )
    phone = login_phone(phone_ctx, server, DEPARTMENT)
    phone.wait_for_url("**/m/tasks")
    task = phone.get_by_test_id("m-dept-report-in").get_by_test_id(f"m-task-{number}")
    expect(task).to_be_visible()
    expect(task).to_contain_text("黄牌督办")
    expect(task).to_contain_text("待报到")
    phone.wait_for_load_state("networkidle")
    assert 1 <= len(case_requests) <= 3, case_requests
    shot(server, phone, "mobile-department-tasks")
    expect(phone.get_by_test_id("tab-messages").locator(".van-badge")).to_be_visible()
    phone.get_by_test_id("tab-messages").click()
    notice = phone.get_by_test_id("m-unread").locator("[data-kind=supervision]").filter(has_text=number)
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("黄牌督办")
    expect(notice).to_contain_text("超时未报到，请立即到场处置")
    expect(
        phone.get_by_test_id("m-unread").locator("[data-kind=whistle]").filter(has_text=number)
    ).to_have_count(1)
    shot(server, phone, "mobile-messages")
    notice.click()
    phone.wait_for_url(re.compile(rf"/m/cases/{case_id}$"))
    expect(phone.get_by_test_id("m-my-steps")).to_contain_text("待报到")
    phone.get_by_test_id("m-report-in").click()
    expect(phone.get_by_test_id("m-case")).to_have_attribute("data-status", "in_progress")
    expect(phone.get_by_test_id("m-handle")).to_be_visible()
    shot(server, phone, "mobile-department-handle")

    # The same notice is on the department's desktop workbench, and it was marked read on the phone.
    desk = login_desktop(new_context("desktop"), server, DEPARTMENT)
    listed = desk.get_by_test_id("notifications").locator("li").filter(has_text=number)
    expect(listed.get_by_test_id("notification-supervision")).to_contain_text("黄牌督办")
    mine = server.api(DEPARTMENT).get("/api/v1/cases/notifications?page_size=100")["items"]
    card = [n for n in mine if n["case_id"] == case_id and n["kind"] == "supervision"]
    assert len(card) == 1 and card[0]["read_at"] is not None and card[0]["data"]["level"] == "yellow"


def test_the_phone_rework_needs_a_reason_and_a_confirmation(server, new_context):
    case = _new_case(server, "楼道堆放杂物堵塞消防通道")
    case_id, number = case["id"], case["number"]
    _act(server, COMMUNITY_STAFF, case_id, "accept")
    _act(server, COMMUNITY_STAFF, case_id, "community_handle")
    _act(server, COMMUNITY_STAFF, case_id, "handle", note="已通知住户清理杂物")

    phone = login_phone(new_context("phone"), server, GRID_WORKER)
    phone.goto(f"{server.url}/m/cases/{case_id}")
    expect(phone.get_by_test_id("m-verify")).to_be_visible()
    # Without a reason: the field says what is missing and nothing is sent.
    phone.get_by_test_id("m-verify-fail").click()
    expect(phone.get_by_test_id("m-verify")).to_contain_text("请写明不通过的原因")
    expect(phone.locator(".van-dialog")).to_have_count(0)
    assert server.api(GRID_WORKER).get(f"/api/v1/cases/cases/{case_id}")["status"] == "handled"
    # With a reason: a confirmation first; cancelling changes nothing.
    phone.get_by_test_id("m-verify-note").locator("textarea").fill("杂物仍未清理，通道仍被堵塞")
    phone.get_by_test_id("m-verify-fail").click()
    dialog = phone.locator(".van-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(number)
    shot(server, phone, "mobile-rework-confirm")
    dialog.locator(".van-dialog__cancel").click()
    expect(dialog).to_be_hidden()
    assert server.api(GRID_WORKER).get(f"/api/v1/cases/cases/{case_id}")["status"] == "handled"
    phone.get_by_test_id("m-verify-fail").click()
    phone.locator(".van-dialog .van-dialog__confirm").click()
    expect(phone.get_by_test_id("m-case")).to_have_attribute("data-status", "community_handling")
    detail = server.api(COMMUNITY_STAFF).get(f"/api/v1/cases/cases/{case_id}")
    verify = [e for e in detail["timeline"] if e["action"] == "verify"][-1]
    assert verify["note"] == "杂物仍未清理，通道仍被堵塞" and detail["rework_count"] == 1
    # The community's staff, who handled it, are told to redo it.
    told = server.api(COMMUNITY_STAFF).get("/api/v1/cases/notifications?page_size=50")["items"]
    assert any(n["case_id"] == case_id and n["kind"] == "rework" for n in told)
