"""Rental housing in the browser: a grid worker finds a due house in 出租屋检查 on the phone, inspects it with
two items failing (a fire extinguisher and 群租), and sees the grade the rules give (严管, orange); the two
hazard cases appear in community staff's case list and on the house's page, the house's next due date is
the worker's to-do, the public page of its code shows the grade and nothing personal, and the desktop
figures show the grade table with drill-down."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from playwright.sync_api import expect

from .conftest import login_desktop, login_phone, shot

GRID = "440309002001002"
COMMUNITY = "440309002001"
GRID_WORKER = f"grid_worker-{GRID}"
COMMUNITY_STAFF = f"community_staff-{COMMUNITY}-1"
LEADER = "leader-440309"
# H01 (灭火器、烟感) fails: a hazard case; C05 (超过限住人数、分隔群租) fails: a hazard case and the
# group-rental override, which forces at least 严管 whatever the score.
FAILING = ("H01", "C05")


def _local_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _all_due(api) -> dict:
    """The whole due list of the API (100 a page at most)."""
    first = api.get("/api/v1/rental/houses?due=due&page_size=100")
    items = list(first["items"])
    page = 1
    while len(items) < first["count"]:
        page += 1
        items += api.get(f"/api/v1/rental/houses?due=due&page_size=100&page={page}")["items"]
    return {"count": first["count"], "items": items}


def _find_due(phone, house_id: int):
    """The house's cell in the phone's due list, paging on with 更多 while it is not shown."""
    due_list = phone.get_by_test_id("m-rental-due")
    cell = due_list.get_by_test_id(f"m-rental-house-{house_id}")
    expect(due_list.get_by_test_id("m-rental-due-date").first).to_be_visible()
    more = due_list.get_by_test_id("m-rental-due-more")
    while cell.count() == 0 and more.count():
        shown = due_list.get_by_test_id("m-rental-due-date").count()
        more.click()
        expect(due_list.get_by_test_id("m-rental-due-date")).not_to_have_count(shown)
    return cell


def test_a_grid_worker_inspects_a_due_house_and_two_hazard_cases_open(server, new_context):
    worker_api = server.api(GRID_WORKER)
    due = _all_due(worker_api)
    assert due["count"] > 0, "the demo grid has no rental house due for inspection"
    # A house whose third red grade in a row would also open a rectification case (整治) is left out.
    house = next(h for h in due["items"] if h["red_streak"] < 2)
    before = worker_api.get(f"/api/v1/rental/houses/{house['id']}")

    # 1. The phone's tasks list the due house; the form lists the checklist by group.
    phone = login_phone(new_context("phone"), server, GRID_WORKER)
    phone.goto(f"{server.url}/m/tasks")
    due_list = phone.get_by_test_id("m-rental-due")
    expect(due_list.get_by_test_id("m-rental-due-count")).to_have_text(f"({due['count']})")
    cell = _find_due(phone, house["id"])
    expect(cell).to_contain_text(house["address"])
    shot(server, phone, "rental-due-phone")
    cell.click()
    form = phone.get_by_test_id("m-rental-inspect")
    expect(form).to_contain_text("硬件与消防")
    expect(form).to_contain_text("业主守法纳管")
    for code in FAILING:
        phone.get_by_test_id(f"m-item-{code}-fail").click()
    expect(form).to_contain_text("不合格 2 项")
    shot(server, phone, "rental-inspect-phone")
    phone.get_by_test_id("m-rental-submit").click()

    # 2. The answer: the grade the rules give, shown on the phone as the API recorded it.
    result = phone.get_by_test_id("m-rental-result")
    expect(result).to_be_visible()
    after = worker_api.get(f"/api/v1/rental/houses/{house['id']}")
    latest = after["inspections"][0]
    assert len(after["inspections"]) == len(before["inspections"]) + 1
    assert sorted(latest["failed"]) == sorted(FAILING)
    assert latest["grade"] == "strict" and after["colour"] == "orange"
    assert "group_rental" in latest["overrides_applied"]
    assert len(latest["cases"]) == 2
    grade = result.get_by_test_id("m-rental-new-grade")
    expect(grade).to_have_attribute("data-grade", "strict")
    expect(grade).to_have_attribute("data-colour", "orange")
    expect(grade).to_have_text("严管")
    next_due = dt.date.fromisoformat(latest["next_due_on"])
    expect(result.get_by_test_id("m-rental-next-due")).to_contain_text(next_due.isoformat())
    for case in latest["cases"]:
        expect(result.get_by_test_id("m-rental-cases")).to_contain_text(case["number"])
    shot(server, phone, "rental-result-phone")

    # 3. The next due date is the worker's to-do: in the due list (houses due within 7 days) when it falls
    # within the week, which a weekday inspection's 7-day interval does; after the week-end's move to a
    # working day it leaves the list until it comes closer.
    result.get_by_test_id("m-rental-back").click()
    due_after = _all_due(worker_api)
    listed = [h for h in due_after["items"] if h["id"] == house["id"]]
    cell = _find_due(phone, house["id"])
    if next_due <= _local_today() + dt.timedelta(days=7):
        assert listed and listed[0]["next_due_on"] == next_due.isoformat()
        expect(cell.get_by_test_id("m-rental-due-date")).to_have_text(f"{next_due.isoformat()} 到期")
        expect(cell.get_by_test_id("grade-tag")).to_have_attribute("data-grade", "strict")
    else:
        assert listed == []
        expect(cell).to_have_count(0)

    # 4. Community staff find both hazard cases in their case list, and on the house's page.
    staff_ctx = new_context("desktop")
    desk = login_desktop(staff_ctx, server, COMMUNITY_STAFF, "/app/cases")
    table = desk.get_by_test_id("case-table")
    for case in latest["cases"]:
        expect(table).to_contain_text(case["number"])
    desk.goto(f"{server.url}/app/rental/{house['id']}")
    page = desk.get_by_test_id("rental-house")
    expect(page.get_by_test_id("grade-tag").first).to_have_attribute("data-colour", "orange")
    expect(page.get_by_test_id("rental-next-due")).to_have_text(next_due.isoformat())
    opened = page.get_by_test_id("rental-open-cases")
    for case in latest["cases"]:  # linked straight to the case by its id
        link = opened.get_by_role("link", name=case["number"])
        expect(link).to_have_attribute("href", f"/app/cases/{case['id']}")
    expect(page.get_by_test_id("rental-inspections")).to_contain_text(f"第 {latest['rules_version']} 版")
    if after["landlord_kind"] == "person":  # a person's name comes masked from the server: surname and stars
        assert re.fullmatch(r"\S\*+", after["landlord_name"]), after["landlord_name"]
        expect(page.get_by_test_id("rental-landlord")).to_have_text(after["landlord_name"])
    shot(server, desk, "rental-house-desktop")
    opened.get_by_role("link", name=latest["cases"][0]["number"]).click()
    desk.wait_for_url(re.compile(rf"/app/cases/{latest['cases'][0]['id']}$"))
    expect(desk.get_by_test_id("case-detail")).to_contain_text(latest["cases"][0]["number"])

    # 5. The public page of the house's code: the grade and last inspection, nothing personal.
    public = new_context("phone").new_page()
    public.goto(f"{server.url}/m/rental/{after['code']}")
    badge = public.get_by_test_id("m-rental-public-grade")
    expect(badge).to_have_attribute("data-colour", "orange")
    expect(badge).to_contain_text("严管")
    expect(public.get_by_test_id("m-rental-public-last")).to_contain_text(latest["inspected_on"])
    text = public.get_by_test_id("m-rental-public").inner_text()
    for personal in (after["landlord_name"], after["filing_number"]):
        shown = (personal or "").replace("*", "")
        if len(shown) > 1:
            assert shown not in text
    shot(server, public, "rental-public-phone")


def test_the_figures_page_shows_the_grade_table_and_drills_down(server, new_context):
    leader_api = server.api(LEADER)
    top = leader_api.get("/api/v1/rental/figures")
    assert top["area"]["houses"] > 0
    desk = login_desktop(new_context("desktop"), server, LEADER, "/app/rental/figures")
    table = desk.get_by_test_id("rental-grade-table")
    expect(table).to_contain_text(top["area"]["name"])
    for grade in ("宽管", "关注", "严管", "禁止"):
        expect(table).to_contain_text(grade)
    strict = top["area"]["grades"]["strict"]["houses"]
    expect(desk.get_by_test_id(f"cell-{top['area']['code']}-strict")).to_have_text(str(strict))
    categories = desk.get_by_test_id("rental-category-table")
    for code in top["area"]["categories"]:  # named as the server names the category
        expect(categories).to_contain_text(top["category_names"][code])
    shot(server, desk, "rental-figures-desktop")

    # Drill down to the first child with houses; the trail is in the URL, Back goes up again.
    child = next(c for c in top["children"] if c["houses"] > 0)
    desk.get_by_test_id(f"drill-{child['code']}").click()
    desk.wait_for_url(re.compile(rf"trail={child['code']}"))
    expect(desk.get_by_test_id("rental-trail")).to_contain_text(child["name"])
    below = leader_api.get(f"/api/v1/rental/figures?area={child['code']}")
    expect(desk.get_by_test_id(f"cell-{child['code']}-strict")).to_have_text(
        str(below["area"]["grades"]["strict"]["houses"])
        if below["area"]["grades"]["strict"]["houses"]
        else "0"
    )
    desk.go_back()
    expect(desk.get_by_test_id(f"cell-{top['area']['code']}-strict")).to_have_text(str(strict))

    # A count opens the house list with that area and grade: every row carries that grade.
    desk.get_by_test_id(f"cell-{top['area']['code']}-strict").click()
    desk.wait_for_url(re.compile(r"/app/rental\?.*grade=strict"))
    rows = desk.get_by_test_id("rental-table")
    expect(rows.get_by_test_id("grade-tag").first).to_have_attribute("data-grade", "strict")
    for tag in rows.get_by_test_id("grade-tag").all():
        assert tag.get_attribute("data-grade") == "strict"
    shot(server, desk, "rental-list-desktop")


def test_the_figures_page_shows_the_period_and_exports_every_table(server, new_context):
    leader_api = server.api(LEADER)
    top = leader_api.get("/api/v1/rental/figures")
    activity = leader_api.get("/api/v1/rental/figures/activity")
    ctx = new_context("desktop", accept_downloads=True)
    desk = login_desktop(ctx, server, LEADER, "/app/rental/figures")
    table = desk.get_by_test_id("rental-activity-table")
    expect(table).to_contain_text(activity["area"]["name"])
    for head in ("检查次数", "及时率", "新发现隐患", "已办结隐患", "整治中"):
        expect(desk.get_by_test_id("rental-activity")).to_contain_text(head)
    share = activity["area"]["on_time_share"]
    expect(desk.get_by_test_id(f"share-{activity['area']['code']}")).to_have_text(
        "—" if share is None else f"{share * 100:.1f}%"
    )
    with desk.expect_download(timeout=60_000) as info:
        desk.get_by_test_id("rental-figures-export").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    assert book.sheetnames == ["等级", "租住类别", "检查及时率", "隐患与整治"]
    total = list(book["等级"].iter_rows(values_only=True))[len(top["children"]) + 1]
    assert total[0] == top["area"]["code"] and list(total[-2:]) == [
        top["area"]["houses"],
        top["area"]["rooms"],
    ]

    # A period: kept in the URL, the table and the export follow it; a reversed one is refused in Chinese.
    last_week = (_local_today() - dt.timedelta(days=6)).isoformat()
    desk.goto(f"{server.url}/app/rental/figures?from={last_week}&to={_local_today().isoformat()}")
    week = leader_api.get(f"/api/v1/rental/figures/activity?date_from={last_week}")
    expect(desk.get_by_test_id("rental-activity-table")).to_contain_text(str(week["area"]["inspections"]))
    desk.goto(f"{server.url}/app/rental/figures?from={_local_today().isoformat()}&to={last_week}")
    expect(desk.get_by_role("alert")).to_contain_text("统计期的开始日期晚于结束日期")


def test_what_is_not_yours_shows_nothing_and_says_why(server, new_context):
    # A house of another grid: the worker's phone form says why in Chinese and offers no submit.
    leader_api = server.api(LEADER)
    houses = leader_api.get("/api/v1/rental/houses?page_size=100")["items"]
    other = next(h for h in houses if h["grid"] != GRID)
    worker_api = server.api(GRID_WORKER)
    before = worker_api.get("/api/v1/rental/houses?due=due&page_size=1")["count"]
    phone = login_phone(new_context("phone"), server, GRID_WORKER)
    phone.goto(f"{server.url}/m/rental/inspect/{other['id']}")
    expect(phone.get_by_test_id("m-rental-error")).to_contain_text("不在您的管辖范围")
    expect(phone.get_by_test_id("m-rental-submit")).to_have_count(0)
    assert worker_api.get("/api/v1/rental/houses?due=due&page_size=1")["count"] == before

    # An unknown house code: the public page says so, with nothing else.
    public = new_context("phone").new_page()
    public.goto(f"{server.url}/m/rental/no-such-code")
    expect(public.get_by_test_id("m-rental-public-error")).to_contain_text("没有找到这个房屋编码")
    expect(public.get_by_test_id("m-rental-public-grade")).to_have_count(0)

    # A department handler reads no rental houses: no menu entry, and the page itself is refused.
    desk = login_desktop(new_context("desktop"), server, "department_handler-440309-CG")
    expect(desk.get_by_test_id("menu-rental")).to_have_count(0)
    desk.goto(f"{server.url}/app/rental/figures")
    expect(desk.locator(".forbidden-message")).to_contain_text("无权访问该页面")
    desk.wait_for_url("**/app/workbench")


def test_the_house_list_shows_the_overdue_houses_most_overdue_first(server, new_context):
    staff_api = server.api(COMMUNITY_STAFF)
    overdue = staff_api.get("/api/v1/rental/houses?due=overdue&page_size=20")
    assert overdue["count"] > 0
    desk = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/rental?due=overdue")
    table = desk.get_by_test_id("rental-table")
    expect(desk.get_by_test_id("rental-list")).to_contain_text(f"共 {overdue['count']} 条")
    links = table.get_by_test_id("rental-house-link")
    expect(links).to_have_count(len(overdue["items"]))
    assert links.all_inner_texts() == [h["address"] for h in overdue["items"]]
    expect(table.get_by_text("已超期").first).to_be_visible()

    # Due date and category together, one list: the category filter names the categories as the server does.
    category = overdue["items"][0]["category"]
    both = staff_api.get(f"/api/v1/rental/houses?due=overdue&category={category}&page_size=20")
    desk.goto(f"{server.url}/app/rental?due=overdue&category={category}")
    expect(desk.get_by_test_id("rental-list")).to_contain_text(f"共 {both['count']} 条")
    expect(links).to_have_count(len(both["items"]))
    chosen = desk.locator(".el-select").filter(has=desk.locator("#rental-category"))
    expect(chosen).to_contain_text(overdue["items"][0]["category_name"])


def test_community_staff_print_the_qr_labels_of_the_list_and_of_one_house(server, new_context):
    """打印二维码标签 on the list downloads the sheet of the filters shown (21 labels a page), 打印本屋二维码标签
    on a house page the label of that house; neither names a person."""
    import io

    from pypdf import PdfReader

    staff_api = server.api(COMMUNITY_STAFF)
    houses = staff_api.get(f"/api/v1/rental/houses?area={GRID}&grade=prohibited&page_size=100")
    assert 0 < houses["count"] <= 100, houses["count"]
    desk = login_desktop(
        new_context("desktop"), server, COMMUNITY_STAFF, f"/app/rental?area={GRID}&grade=prohibited"
    )
    expect(desk.get_by_test_id("rental-list")).to_contain_text(f"共 {houses['count']} 条")
    with desk.expect_download(timeout=120_000) as info:
        desk.get_by_test_id("rental-print-labels").click()
    reader = PdfReader(io.BytesIO(open(info.value.path(), "rb").read()))
    assert len(reader.pages) == -(-houses["count"] // 21)
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    assert all(h["code"] in text for h in houses["items"]) and "禁止" in text

    one = houses["items"][0]
    detail = staff_api.get(f"/api/v1/rental/houses/{one['id']}")
    desk.goto(f"{server.url}/app/rental/{one['id']}")
    expect(desk.get_by_test_id("rental-code")).to_have_text(one["code"])
    with desk.expect_download(timeout=60_000) as info:
        desk.get_by_test_id("rental-print-label").click()
    reader = PdfReader(io.BytesIO(open(info.value.path(), "rb").read()))
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    assert len(reader.pages) == 1 and one["code"] in text and re.sub(r"\s+", "", one["address"]) in text
    if detail["filing_number"]:
        assert detail["filing_number"] not in text
