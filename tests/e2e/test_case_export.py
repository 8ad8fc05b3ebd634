"""The case list in the browser: search, the server-side Excel export of the WHOLE filtered list (a list of
262 exports 262 rows, not one page), the printable work order, and the layout at 1366×768 (办理时限 and
督办 visible, the detail's labels on one line)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from openpyxl import load_workbook
from playwright.sync_api import expect

from .conftest import login_desktop, shot

# A community of its own (the third of the small demo): the cases made here do not crowd the to-dos the
# other browser tests look at in community 001.
GRID = "440309002003001"
COMMUNITY_STAFF = "community_staff-440309002003-1"
WORD = "导出核对样本"
LAPTOP = {"width": 1366, "height": 768}


def _make_cases(server, n: int) -> None:
    """`n` hotline cases through the intake service, straight into the server's database."""
    code = (
        "from gridgov.accounts.models import User\n"
        "from gridgov.cases import services\n"
        f"u = User.objects.get(username={COMMUNITY_STAFF!r})\n"
        f"for i in range({n}):\n"
        f"    services.intake(actor=u, description='{WORD} ' + str(i) + ' 楼道堆放杂物', channel='hotline',"
        f" area_code={GRID!r}, reporter_name='李先生', reporter_phone='13700001111')\n"
    )
    env = os.environ.copy()
    env["GRIDGOV_DATA_DIR"] = str(server.data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "gridgov.cli", "manage", "shell", "-c", code],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_case_list_of_262_exports_262_rows(server, new_context):
    _make_cases(server, 262)
    ctx = new_context("desktop", accept_downloads=True)
    page = login_desktop(ctx, server, COMMUNITY_STAFF, "/app/cases")
    page.locator("#f-q").fill(WORD)
    page.get_by_test_id("filter-search").click()
    expect(page.locator(".el-pagination__total")).to_contain_text("262")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("export").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    ws = load_workbook(io.BytesIO(open(download.path(), "rb").read())).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 1 + 262
    assert rows[0][0] == "案件编号" and rows[0][4] == "是否超期"
    assert all(WORD in r[1] for r in rows[1:])
    assert {r[4] for r in rows[1:]} <= {"是", "否"}  # yes/no, not the warning level
    assert all(not str(r[5]).isdigit() for r in rows[1:])  # the grid's name, not its code


def test_search_by_phone_and_print_the_work_order(server, new_context):
    _make_cases(server, 1)
    ctx = new_context("desktop", accept_downloads=True)
    page = login_desktop(ctx, server, COMMUNITY_STAFF, "/app/cases")
    page.locator("#f-phone").fill("13700001111")
    page.get_by_test_id("filter-search").click()
    expect(
        page.get_by_test_id("case-table").locator(".el-table__body-wrapper tbody tr").first
    ).to_be_visible()
    assert "13700001111" not in page.url  # a phone never goes into the address bar
    page.get_by_test_id("case-table").locator(".el-table__body-wrapper tbody tr a").first.click()
    expect(page.get_by_test_id("case-detail")).to_be_visible()
    # the community dispatcher who calls back sees the reporter's phone
    expect(page.get_by_test_id("case-detail")).to_contain_text("13700001111")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("print-work-order").click()
    data = open(info.value.path(), "rb").read()
    assert data.startswith(b"%PDF")


def test_case_list_and_detail_fit_a_1366_by_768_screen(server, new_context):
    _make_cases(server, 1)
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, COMMUNITY_STAFF, "/app/cases")
    page.set_viewport_size(LAPTOP)
    table = page.get_by_test_id("case-table")
    expect(table.locator(".el-table__body-wrapper tbody tr").first).to_be_visible()
    for column in ("col-due", "col-supervision"):
        header = table.locator(f"th.{column}").first
        expect(header).to_be_visible()
        box = header.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"], (column, box)
    expect(table.locator("th.col-due").first).to_contain_text("办理时限")
    expect(table.locator("th.col-supervision").first).to_contain_text("督办")
    shot(server, page, "case-list-1366")
    # a deadline reads as remaining working time (cases being handled have one)
    page.goto(f"{server.url}/app/cases?status=in_progress&status=whistled")
    expect(table.get_by_test_id("deadline-remaining").first).to_have_text(
        re.compile(r"^(剩余|已超期) \d+ (个工作日|工时)$")
    )

    table.locator(".el-table__body-wrapper tbody tr a").first.click()
    expect(page.get_by_test_id("case-detail")).to_be_visible()
    label = page.locator(".detail__facts .el-descriptions__label").first
    expect(label).to_be_visible()
    box = label.bounding_box()
    line = float(label.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))
    padding = float(
        label.evaluate(
            "e => parseFloat(getComputedStyle(e).paddingTop) + parseFloat(getComputedStyle(e).paddingBottom)"
        )
    )
    assert box is not None and box["height"] - padding <= line * 1.5, (
        box,
        line,
    )  # one line, not one character per line
    assert box["x"] + box["width"] <= LAPTOP["width"]
    shot(server, page, "case-detail-1366")
