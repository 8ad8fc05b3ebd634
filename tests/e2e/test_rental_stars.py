"""Star safe buildings in the browser: community staff apply for a building of their community, subdistrict
staff assess it (one criterion short of full marks: 4 stars) and award it, the site page shows the award
and its history, and the phone's public list shows the building with its 4 stars and no person."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import login_desktop, shot

COMMUNITY = "440309002001"
COMMUNITY_STAFF = f"community_staff-{COMMUNITY}-1"
SUBDISTRICT_STAFF = "subdistrict_staff-440309002-1"


def test_staff_apply_the_subdistrict_awards_four_stars_and_the_public_list_shows_it(server, new_context):
    staff_api = server.api(COMMUNITY_STAFF)
    rated = {s["name"] for s in _all(staff_api, "/api/v1/rental/stars?kind=building")}
    building = next(
        b
        for b in staff_api.get("/api/v1/territory/buildings?page_size=100")["items"]
        if b["address"] not in rated
    )

    # 1. Community staff apply from the list; the site page opens with the application.
    desk = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/rental/stars")
    expect(desk.get_by_test_id("stars-counts")).to_be_visible()
    desk.get_by_test_id("stars-apply").click()
    dialog = desk.get_by_test_id("stars-apply-dialog")
    desk.locator("#stars-apply-building").fill(building["code"])
    desk.locator(".el-select-dropdown__item", has_text=building["code"]).first.click()
    dialog.get_by_test_id("stars-apply-submit").click()
    desk.wait_for_url(re.compile(r"/app/rental/stars/\d+$"))
    site_id = int(desk.url.rsplit("/", 1)[1])
    page = desk.get_by_test_id("rental-star-site")
    expect(page).to_contain_text(building["address"])
    expect(page.get_by_test_id("star-site-status")).to_have_attribute("data-status", "unrated")
    expect(page.get_by_test_id("star-action-assess")).to_be_visible()  # community staff may assess too
    expect(page.get_by_test_id("star-action-award")).to_have_count(0)

    # 2. Subdistrict staff score every criterion: S03 (e-bikes, 15 points) gets 5 → 90 points → 4 stars.
    sub = login_desktop(new_context("desktop"), server, SUBDISTRICT_STAFF, f"/app/rental/stars/{site_id}")
    site = sub.get_by_test_id("rental-star-site")
    site.get_by_test_id("star-action-assess").click()
    dialog = sub.get_by_test_id("star-dialog")
    score = dialog.get_by_test_id("star-score-S03").locator("input")
    score.fill("5")
    score.blur()
    expect(dialog.get_by_test_id("star-assess-total")).to_contain_text("90 / 100")
    shot(server, sub, "rental-stars-assess-desktop")
    dialog.get_by_test_id("star-dialog-submit").click()
    expect(site.get_by_test_id("star-action-award")).to_be_visible()
    site.get_by_test_id("star-action-award").click()
    expect(sub.get_by_test_id("star-award-confirm")).to_contain_text("4 星")
    sub.get_by_test_id("star-dialog").get_by_test_id("star-dialog-submit").click()
    expect(site.get_by_test_id("star-site-status")).to_have_attribute("data-status", "awarded")
    expect(site.get_by_test_id("star-site-stars")).to_have_attribute("data-stars", "4")
    history = site.get_by_test_id("star-site-history")
    expect(history.locator("[data-action]")).to_have_count(3)
    expect(history).to_contain_text("授星")
    expect(sub.get_by_test_id("star-dialog")).to_be_hidden()
    for overlay in sub.locator(".el-overlay").all():  # the closed dialogs' fading masks gone
        expect(overlay).to_be_hidden()
    shot(server, sub, "rental-stars-site-desktop")
    detail = staff_api.get(f"/api/v1/rental/stars/{site_id}")
    assert (detail["status"], detail["stars"]) == ("awarded", 4)
    expect(site.get_by_test_id("star-site-valid")).to_have_text(detail["valid_until"])

    # 3. The phone's public list (no login): the building under 4 stars, with its community and validity.
    public = new_context("phone").new_page()
    public.goto(f"{server.url}/m/rental-stars")
    public.get_by_role("tab", name="4 星").click()
    items = public.get_by_test_id("m-stars-public-item")
    expect(items.first).to_have_attribute("data-stars", "4")
    mine = items.filter(has_text=building["address"])
    more = public.get_by_test_id("m-stars-public-more")
    while mine.count() == 0 and more.count():
        shown = items.count()
        more.click()
        expect(items).not_to_have_count(shown)
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(detail["community"])
    expect(mine).to_contain_text(detail["valid_until"])
    text = public.get_by_test_id("m-stars-public").inner_text()
    for person in (COMMUNITY_STAFF, SUBDISTRICT_STAFF, detail["applications"][0]["applicant"]):
        assert person not in text
    shot(server, public, "rental-stars-public-phone")


def _all(api, path: str) -> list[dict]:
    first = api.get(f"{path}&page_size=100")
    items = list(first["items"])
    page = 1
    while len(items) < first["count"]:
        page += 1
        items += api.get(f"{path}&page_size=100&page={page}")["items"]
    return items


def test_staff_name_a_compound_in_the_apply_dialog_and_apply_for_it(server, new_context):
    staff_api = server.api(COMMUNITY_STAFF)
    taken = {
        b["code"]
        for c in staff_api.get("/api/v1/rental/stars/compounds?page_size=100")["items"]
        for b in c["buildings"]
    }
    rated = {s["name"] for s in _all(staff_api, "/api/v1/rental/stars?kind=building")}
    free = [
        b
        for b in staff_api.get("/api/v1/territory/buildings?page_size=100")["items"]
        if b["code"] not in taken and b["address"] not in rated
    ][:2]
    assert len(free) == 2

    desk = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/rental/stars")
    desk.get_by_test_id("stars-apply").click()
    apply = desk.get_by_test_id("stars-apply-dialog")
    apply.get_by_test_id("stars-apply-kind").get_by_text("小区").click()
    apply.get_by_test_id("stars-compound-new").click()
    dialog = desk.get_by_test_id("stars-compound-dialog")
    dialog.get_by_test_id("stars-compound-submit").click()  # nothing filled in: told what is missing
    expect(dialog).to_contain_text("请填写小区名称并选择楼栋")
    dialog.get_by_test_id("stars-compound-name").fill("锦华苑")
    for b in free:
        desk.locator("#stars-compound-buildings").fill(b["code"])
        desk.locator(".el-select-dropdown__item", has_text=b["code"]).first.click()
    dialog.get_by_test_id("stars-compound-name").click()  # closes the buildings' drop-down
    dialog.get_by_test_id("stars-compound-submit").click()
    expect(dialog).to_be_hidden()
    expect(apply.get_by_test_id("stars-apply-compound")).to_contain_text("锦华苑")
    apply.get_by_test_id("stars-apply-submit").click()
    desk.wait_for_url(re.compile(r"/app/rental/stars/\d+$"))
    site = staff_api.get(f"/api/v1/rental/stars/{int(desk.url.rsplit('/', 1)[1])}")
    assert (site["kind"], site["name"], site["status"]) == ("compound", "锦华苑", "unrated")
    compound = next(
        c
        for c in staff_api.get("/api/v1/rental/stars/compounds?page_size=100")["items"]
        if c["name"] == "锦华苑"
    )
    assert {b["code"] for b in compound["buildings"]} == {b["code"] for b in free}
