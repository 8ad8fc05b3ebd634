"""Rental import in the browser: community staff go from the rental list to 出租屋导入, upload a small rental
list with one bad row, see how many rows were imported and download the error workbook, which names the bad
row and its reason."""

from __future__ import annotations

import io

import openpyxl
from playwright.sync_api import expect

from .conftest import import_csv, login_desktop, shot

COMMUNITY = "440309002001"
COMMUNITY_STAFF = f"community_staff-{COMMUNITY}-1"


def _free_houses(api, n: int) -> list[dict]:
    """Owner-occupied houses of the staff's community (the demo makes only rented houses rental houses)."""
    found: list[dict] = []
    for building in api.get("/api/v1/territory/buildings?page_size=20")["items"]:
        houses = api.get(f"/api/v1/territory/buildings/{building['code']}/houses?use=owner_occupied")["items"]
        found += houses
        if len(found) >= n:
            return found[:n]
    raise AssertionError("no owner-occupied houses in the demo community")


def _rental_list(houses: list[dict]) -> bytes:
    lines = ["楼栋编码,单元,房号,租住类别,租赁备案号,限住人数,出租房间"]
    lines += [
        f"{h['building_code']},{h['unit']},{h['room']},合租,E2E-{i},4,A、B" for i, h in enumerate(houses)
    ]
    lines.append(f"{houses[0]['building_code']},{houses[0]['unit']},9999,整租,E2E-X,四人,")  # row 4: bad
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_community_staff_import_a_rental_list_and_download_the_error_workbook(server, new_context):
    staff = server.api(COMMUNITY_STAFF)
    houses = _free_houses(staff, 2)
    before = staff.get("/api/v1/rental/houses?page_size=1")["count"]

    page = login_desktop(new_context("desktop"), server, COMMUNITY_STAFF, "/app/rental")
    expect(page.get_by_test_id("rental-export")).to_be_visible()
    page.get_by_test_id("rental-import-link").click()
    expect(page.get_by_test_id("rental-import")).to_contain_text("出租屋清单")
    import_csv(page, "rental-", "e2e-rental.csv", _rental_list(houses), inserted=2, errors=1)
    expect(page.get_by_test_id("rental-import-row-errors")).to_contain_text("限住人数")
    shot(server, page, "rental-import-desktop")

    with page.expect_download() as info:
        page.get_by_test_id("rental-error-workbook").click()
    download = info.value
    assert download.suggested_filename.endswith("-errors.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read()))  # noqa: SIM115
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0] == 4
    assert "9999" in rows[1][-1] and "限住人数" in rows[1][-1]

    assert staff.get("/api/v1/rental/houses?page_size=1")["count"] == before + 2
