"""Issue 13 in the browser: a forbidden page says so (finding 17), the dashboard's drill-down is in the URL
so Back goes up a level, its colours follow meaning and its map has a legend (findings 8, 17), an upload
error gives the server's reason (finding 11), building-head submissions come masked and a reveal is logged
(finding 6), the units tab heads its name column 单位名称 (finding 12)."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from tests.e2e.conftest import login_desktop, shot

COMMUNITY_STAFF = "community_staff-440309002001-1"
LEADER = "leader-440309"
ADMIN = "admin-440309"


def _of_role(server, role: str) -> str:
    return next(x["username"] for x in server.logins if x["role"] == role)


def test_a_forbidden_page_says_so(server, new_context):
    page = login_desktop(new_context("desktop"), server, _of_role(server, "building_head"))
    page.goto(f"{server.url}/app/dashboard")
    page.wait_for_url("**/app/workbench")
    expect(page.locator(".el-message")).to_contain_text("无权访问该页面")


def test_the_dashboard_drill_down_is_in_the_url_and_its_colours_mean_something(server, new_context):
    page = login_desktop(new_context("desktop"), server, LEADER, "/app/dashboard")
    crumbs = page.get_by_test_id("dashboard-trail").locator("button")
    expect(crumbs).to_have_count(1)
    legend = page.get_by_test_id("map-legend")
    expect(legend).to_contain_text("无数据")
    page.get_by_test_id("dashboard-indicator").select_option("rework_rate")
    expect(legend).to_contain_text("返工率")
    expect(legend).to_contain_text("80%–100%")
    # A change reads in 个百分点, coloured by what it means (返工率 down is good).
    kpis = page.get_by_test_id("kpis")
    expect(kpis.get_by_test_id("kpi-value").first).not_to_have_text("…")
    for change in kpis.get_by_test_id("kpi-change").all():
        assert "个百分点" in change.inner_text() and "pp" not in change.inner_text()
    rework = page.get_by_test_id("kpi-rework_rate").get_by_test_id("kpi-change")
    if rework.count():
        text, tone = rework.inner_text(), rework.get_attribute("data-tone")
        assert tone == ("good" if "↓" in text else "bad" if "↑" in text else "flat")
    # 结案 agrees with the list, or says why it does not.
    api = server.api(LEADER)
    today = dt.date.today()
    query = f"date_from={today - dt.timedelta(days=29)}&date_to={today}&area=440309"
    counts = api.get(f"/api/v1/cases/figures?{query}")["counts"]
    if counts["closed_listed"] != counts["closed"]:
        expect(page.get_by_test_id("kpi-closed").get_by_test_id("kpi-note")).to_contain_text(
            str(counts["merged"])
        )
    shot(server, page, "desktop-dashboard-legend")
    # Drill down through the ranking, then Back returns to the level before (still on the dashboard).
    page.get_by_test_id("area-ranking").locator("button").first.click()
    page.wait_for_url(re.compile(r"trail=440309%2C\d+|trail=440309,\d+"))
    expect(crumbs).to_have_count(2)
    page.go_back()
    expect(crumbs).to_have_count(1)
    assert "/app/dashboard" in page.url
    page.go_forward()
    expect(crumbs).to_have_count(2)


def test_an_upload_error_gives_the_servers_reason(server, new_context):
    page = login_desktop(new_context("desktop"), server, ADMIN, "/app/territory/layers")
    page.get_by_test_id("layer-file").set_input_files(
        files=[{"name": "not-a-layer.geojson", "mimeType": "application/geo+json", "buffer": b"hello"}]
    )
    page.locator("#layer-name").fill("坏文件")
    page.get_by_test_id("layer-submit").click()
    error = page.get_by_test_id("layer-error")
    expect(error).to_contain_text("文件既不是 GeoJSON，也不是压缩的 Shapefile。")
    assert "请更正" not in error.inner_text() and "：file" not in error.inner_text()


def test_submissions_are_masked_and_a_reveal_is_logged(server, new_context):
    page = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/registry/submissions")
    table = page.get_by_test_id("submission-table")
    first = table.locator("tbody tr").first
    expect(first).to_be_visible()
    expect(first).to_contain_text("*")
    expect(page.get_by_test_id("submission-masked-note")).to_contain_text("脱敏")
    assert not re.search(r"\b1[3-9]\d{9}\b", table.inner_text())  # no phone in full
    shot(server, page, "desktop-submissions-masked")
    reveal = first.get_by_role("button", name="显示明文")
    if reveal.count():
        reveal.click()
        expect(first).to_contain_text("已记入访问日志")
        assert re.search(r"\b1[3-9]\d{9}\b", first.inner_text())


def test_the_units_tab_heads_its_name_column_unit_name(server, new_context):
    page = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/registry")
    page.get_by_test_id("registry-tabs").get_by_role("tab", name="单位").click()
    header = page.get_by_test_id("unit-table").locator("thead")
    expect(header).to_contain_text("单位名称")
    expect(header).not_to_contain_text("姓名")


def test_the_grid_list_of_the_intake_form_is_in_code_order(server):
    api = server.api(COMMUNITY_STAFF)
    features = api.get("/api/v1/territory/geojson?level=grid&parent=440309002001")["features"]
    codes = [f["properties"]["code"] for f in features]
    assert codes == sorted(codes) and len(codes) > 1
