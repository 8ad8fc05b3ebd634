"""Issue 13, finding 2: category suggestions appear on a fresh demo. The session's server is `gridgov demo`
then `gridgov serve` and nothing else (no training step): the demo trains the suggestion model itself."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login_desktop, shot

COMMUNITY_STAFF = "community_staff-440309002001-1"


def test_suggestions_appear_on_a_fresh_demo(server, new_context):
    assert (server.data_dir / "models").is_dir()  # written by `gridgov demo`
    page = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/cases/new")
    page.locator("#in-description").fill("小区3栋楼下垃圾堆放多日无人清理，气味很大")
    suggestions = page.get_by_test_id("intake-suggestions")
    first = suggestions.get_by_role("button").first
    expect(first).to_be_visible()
    expect(first).to_contain_text("%")
    shot(server, page, "desktop-intake-suggestions")
    first.click()  # a suggestion fills the category
    expect(first).to_have_class(re.compile(r"el-button--primary"))
