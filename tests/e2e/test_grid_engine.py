"""The grid engine in the browser: an administrator opens 网格体检, generates a re-division proposal for
community 440309002001, sees the proposed and today's grids and the before/after table, adopts it and
sees the summary; then imports a department layer (多网合一), opens its overlay and exports it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import department_layer, login_desktop, shot

ADMIN = "admin-440309"
COMMUNITY = "440309002001"


def test_grid_health_redivision_and_layers(server, new_context):
    admin = server.api(ADMIN)
    ctx = new_context("desktop")
    page = login_desktop(ctx, server, ADMIN)

    # 网格体检: counts per subdistrict, the lists, the map coloured by status.
    page.get_by_test_id("menu-gridHealth").click()
    expect(page.get_by_test_id("health-summary").locator("tbody tr").first).to_contain_text("民治街道")
    page.get_by_test_id("health-all").click()  # every grid, not only those out of bounds
    expect(page.get_by_test_id("health-grids").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("layer-map").locator("canvas, path").first).to_be_attached()
    shot(server, page, "desktop-grid-health")

    # 网格重划: choose the community, generate a proposal.
    page.get_by_test_id("menu-redivision").click()
    page.locator("#redivide-area").fill(COMMUNITY)
    page.get_by_role("option", name=re.compile(f"{COMMUNITY}）")).first.click()
    page.get_by_test_id("propose-submit").click()
    page.wait_for_url(re.compile(r"/app/territory/redivision/\d+$"))
    proposal_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("proposal")).to_have_attribute("data-status", "draft")
    detail = admin.get(f"/api/v1/territory/proposals/{proposal_id}")
    layers = {
        f["properties"]["layer"]
        for f in admin.get(f"/api/v1/territory/proposals/{proposal_id}/geojson")["features"]
    }
    assert layers == {"proposed", "current"}
    # Both layers are on the map and can be switched off and on.
    expect(page.get_by_test_id("toggle-proposed").locator("input")).to_be_checked()
    expect(page.get_by_test_id("toggle-current").locator("input")).to_be_checked()
    page.get_by_test_id("toggle-current").click()
    expect(page.get_by_test_id("toggle-current").locator("input")).not_to_be_checked()
    page.get_by_test_id("toggle-current").click()
    table = page.get_by_test_id("metrics-table")
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(table.locator("tbody tr").first).to_contain_text(str(detail["metrics"]["grids_after"]))
    expect(page.get_by_test_id("proposed-grids").locator("tbody tr")).to_have_count(len(detail["grids"]))

    # Adopt, after the confirmation; the summary appears.
    page.get_by_test_id("proposal-adopt").click()
    page.locator(".el-message-box").get_by_role("button", name="采纳").click()
    expect(page.get_by_test_id("adopt-summary")).to_be_visible()
    expect(page.get_by_test_id("summary-grids_after")).to_have_text(str(detail["metrics"]["grids_after"]))
    expect(page.get_by_test_id("proposal")).to_have_attribute("data-status", "adopted")
    expect(page.get_by_test_id("proposal-adopt")).to_have_count(0)
    shot(server, page, "desktop-redivision")
    assert admin.get(f"/api/v1/territory/proposals/{proposal_id}")["status"] == "adopted"

    # 多网合一: import a department layer through the form, open its overlay, export it.
    grids = admin.get(f"/api/v1/territory/geojson?level=grid&parent={COMMUNITY}")
    page.get_by_test_id("menu-layers").click()
    page.get_by_test_id("layer-file").set_input_files(
        files=[
            {
                "name": "cg-grids.geojson",
                "mimeType": "application/geo+json",
                "buffer": department_layer(grids),
            }
        ]
    )
    page.locator("#layer-name").fill("城管网格")
    page.get_by_test_id("layer-crs").click()
    page.get_by_role("option", name="WGS-84").click()
    page.get_by_test_id("layer-submit").click()
    expect(page.get_by_test_id("layer-imported")).to_contain_text("3")
    page.get_by_test_id("layer-table").get_by_role("link", name="城管网格").first.click()
    page.wait_for_url(re.compile(r"/app/territory/layers/\d+$"))
    expect(page.get_by_test_id("overlay-table").locator("tbody tr").first).to_be_visible()
    expect(page.get_by_test_id("overlay-split")).not_to_contain_text("…")
    expect(page.get_by_test_id("overlay-issues").locator("li").first).to_be_visible()
    shot(server, page, "desktop-layers")
    with page.expect_download() as download:
        page.get_by_test_id("overlay-export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
