"""The read side: the public page of a house code carries nothing personal, the figures per grade and
category per area match a count from the raw records at every level of the drill-down, the due list, and
registering a rental house."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from django.test import Client

from gridgov.rental.models import RentalHouse, RentalRoom, TenancyCategory
from gridgov.rental.tests.conftest import Api, all_pass, house_of, inspect, make_rental
from gridgov.testing import assert_problem


def test_the_public_page_shows_the_grade_and_nothing_personal(rental, people, today):
    inspect(people.worker_a1, rental, today, results=all_pass(H02="fail", S01="fail"), note="房东张三不在家")
    response = Client().get(f"/api/v1/rental/public/{rental.code}")  # no login
    assert response.status_code == 200
    body = response.json()
    assert (
        body["grade"] == "watch" and body["colour"] == "yellow" and body["last_inspected_on"] == "2026-12-04"
    )
    assert body["open_hazards"] == ["疏散通道、安全出口畅通"] and body["community"] == "北站社区"
    assert body["tenant_notice"] and body["how_to_report"]
    text = response.content.decode()
    for secret in ("张三", "李四", "1390000", "110105", "BA2026", "0101", "worker_a1", "房东"):
        assert secret not in text, secret
    assert set(body) == {
        "code", "community", "category", "grade", "colour", "last_inspected_on", "open_hazards", "tenant_notice",
        "how_to_report",
    }  # fmt: skip
    assert_problem(Client().get("/api/v1/rental/public/nosuchcode"), 404)


def test_house_detail_for_staff(rental, people):
    body = Api(people.staff_a).get(f"/houses/{rental.pk}").json()
    assert (
        body["landlord_kind"] == "person" and body["landlord_name"] == "房***"
    )  # masked by the kernel's rule
    assert (
        body["rooms"] == ["A", "B"] and body["tenants_count"] == 1 and body["filing_number"] == "BA2026-0001"
    )


@pytest.fixture
def many(world, people, today):
    """Rental houses in grids A1, A2 and B1 of several categories and grades (and one not yet inspected)."""
    made = []
    plan = [
        (world.a1, "0201", "whole", all_pass(), 1),
        (world.a1, "0202", "group", all_pass(C05="fail"), 6),
        (world.communities["a"].buildings[1], "0101", "shared", all_pass(H01="fail", S01="fail"), 3),
        (world.grid_a2.buildings.first(), "0101", "whole", all_pass(C01="fail"), 2),
        (world.grid_a2.buildings.first(), "0102", "family_hotel", None, 4),
        (world.b1, "0101", "whole", all_pass(), 2),
        (world.b1, "0102", "dormitory", all_pass(H01="fail", H02="fail", S01="fail", S02="fail"), 8),
    ]
    staff = {"a": people.staff_a, "b": people.staff_b}
    inspector = {"a": people.staff_a, "b": people.staff_b}
    for building, room, category, results, rooms in plan:
        key = "a" if building.grid.path.startswith(world.comm_a.path) else "b"
        r = make_rental(staff[key], building, room, category, rooms=[f"R{i}" for i in range(rooms)])
        if results is not None:
            inspect(inspector[key], r, today, results=results)
        made.append(r)
    return made


def _raw(path: str) -> dict:
    """The figures counted again from the raw rows: each house's latest inspection and its room rows."""
    houses = Counter()
    rooms = Counter()
    for r in RentalHouse.objects.filter(house__building__grid__path__startswith=path):
        latest = r.inspections.order_by("-inspected_on", "-id").first()
        grade = latest.grade if latest else "ungraded"
        n = RentalRoom.objects.filter(rental_house=r).count()
        for key in (("grade", grade), ("category", r.category.code), ("all", "")):
            houses[key] += 1
            rooms[key] += n
    return {"houses": houses, "rooms": rooms}


def _check(row: dict, path: str) -> None:
    raw = _raw(path)
    assert row["houses"] == raw["houses"][("all", "")] and row["rooms"] == raw["rooms"][("all", "")]
    for grade, counts in row["grades"].items():
        assert counts == {
            "houses": raw["houses"][("grade", grade)],
            "rooms": raw["rooms"][("grade", grade)],
        }, grade
    for category, counts in row["categories"].items():
        assert counts == {
            "houses": raw["houses"][("category", category)],
            "rooms": raw["rooms"][("category", category)],
        }
    assert sum(c["houses"] for c in row["categories"].values()) == row["houses"]


def test_figures_per_grade_and_category_with_drill_down(many, people, world):
    api = Api(people.sub_staff)
    top = api.get("/figures").json()
    assert top["area"]["code"] == world.sub.code and top["area"]["houses"] == 7 and top["area"]["rooms"] == 26
    _check(top["area"], world.sub.path)
    assert [c["code"] for c in top["children"]] == [world.comm_a.code, world.comm_b.code]
    for child in top["children"]:
        _check(child, f"{world.sub.path}{child['code']}/")
    assert top["area"]["grades"]["strict"] == {"houses": 2, "rooms": 14}
    assert top["area"]["grades"]["watch"] == {"houses": 1, "rooms": 3}
    assert top["area"]["grades"]["prohibited"] == {"houses": 1, "rooms": 2}
    assert top["area"]["grades"]["ungraded"] == {"houses": 1, "rooms": 4}

    community = api.get("/figures", {"area": world.comm_a.code}).json()  # drill down to the block, then grids
    block = api.get("/figures", {"area": community["children"][0]["code"]}).json()
    assert [c["code"] for c in block["children"]] == [world.grid_a1.code, world.grid_a2.code]
    for child, grid in zip(block["children"], (world.grid_a1, world.grid_a2), strict=True):
        _check(child, grid.path)

    # Community staff of A see A only; B's figures are not theirs.
    assert Api(people.staff_a).get("/figures").json()["area"]["houses"] == 5
    assert_problem(Api(people.staff_a).get("/figures", {"area": world.comm_b.code}), 404)
    assert_problem(Api(people.resident).get("/figures"), 404)


def test_the_list_filters_by_due_date_with_the_other_filters(many, people, world, today):
    house = many[0]
    RentalHouse.objects.filter(pk=house.pk).update(next_due_on=today - dt.timedelta(days=2))
    api = Api(people.staff_a)
    body = api.get("/houses", {"due": "due"}).json()
    rows = {r["id"]: r for r in body["items"]}
    assert rows[house.pk]["overdue"] is True
    assert many[1].pk in rows and rows[many[1].pk]["overdue"] is False  # strict: due in 7 days
    assert many[2].pk not in rows  # watch: due in 14 days
    assert many[5].pk not in rows  # community B
    assert body["items"][0]["id"] == house.pk  # most overdue first
    assert [r["id"] for r in api.get("/houses", {"due": "overdue"}).json()["items"]] == [house.pk]
    # combined with area, grade and category
    in_a1 = api.get("/houses", {"due": "due", "area": world.grid_a1.code}).json()["items"]
    assert [r["id"] for r in in_a1] == [house.pk, many[1].pk]
    assert [r["id"] for r in api.get("/houses", {"due": "due", "grade": "strict"}).json()["items"]] == [
        many[1].pk
    ]
    assert [r["id"] for r in api.get("/houses", {"due": "due", "category": "group"}).json()["items"]] == [
        many[1].pk
    ]
    problem = assert_problem(
        Api(people.staff_a, language="zh-hans").get("/houses", {"due": "soon"}), 422, language="zh"
    )
    assert any("\u4e00" <= ch <= "\u9fff" for e in problem["errors"] for ch in e["message"]), problem
    assert api.get("/due").status_code == 404  # one way to ask: the list's filter


def test_tenancy_categories_and_their_names_in_the_figures(many, people, world):
    api = Api(people.worker_a1, language="zh-hans")
    body = api.ok(api.get("/categories"))
    assert [c["code"] for c in body][:5] == ["whole", "shared", "group", "family_hotel", "dormitory"]
    group = next(c for c in body if c["code"] == "group")
    assert group["name"] == "群租" and isinstance(group["visit_days"], int)
    figures = Api(people.sub_staff, language="zh-hans").get("/figures").json()
    assert set(figures["area"]["categories"]) <= set(figures["category_names"])
    assert figures["category_names"]["family_hotel"] == "家庭旅馆"
    assert Client().get("/api/v1/rental/categories").status_code in (401, 403)


def test_names_of_categories_and_items_follow_the_request_language(many, people, world):
    """English with Accept-Language en, Chinese with zh-hans, on every read that names them; a name kept
    without an English form stays Chinese in English."""
    en, zh = Api(people.staff_a, language="en"), Api(people.staff_a, language="zh-hans")
    assert {c["code"]: c["name"] for c in en.ok(en.get("/categories"))}["group"] == "Group letting"
    assert {c["code"]: c["name"] for c in zh.ok(zh.get("/categories"))}["group"] == "群租"
    en_items = {i["code"]: i["name"] for i in en.ok(en.get("/checklist"))}
    zh_items = {i["code"]: i["name"] for i in zh.ok(zh.get("/checklist"))}
    assert en_items["H02"] == "Escape routes and exits clear" and zh_items["H02"] == "疏散通道、安全出口畅通"
    assert (
        Api(people.sub_staff, language="en").get("/figures").json()["category_names"]["dormitory"]
        == "Dormitory"
    )
    assert (
        Api(people.sub_staff, language="zh-hans").get("/figures").json()["category_names"]["dormitory"]
        == "宿舍"
    )
    house = many[0]
    assert en.get(f"/houses/{house.pk}").json()["category_name"] == "Whole-unit letting"
    assert zh.get(f"/houses/{house.pk}").json()["category_name"] == "整租"
    rows = {r["id"]: r for r in en.get("/houses").json()["items"]}
    assert rows[house.pk]["category_name"] == "Whole-unit letting"
    shared = next(h for h in many if h.category.code == "shared")  # open hazard H01
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/api/v1/rental/public/{shared.code}").json()
    assert (
        page["category"] == "Shared letting"
        and "Working fire extinguishers and smoke detectors" in page["open_hazards"]
    )
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").get(f"/api/v1/rental/public/{shared.code}").json()
    assert page["category"] == "合租" and "灭火器、烟感等消防器材配备有效" in page["open_hazards"]
    TenancyCategory.objects.filter(code="group").update(name_en="")
    assert {c["code"]: c["name"] for c in en.ok(en.get("/categories"))}["group"] == "群租"


def test_the_detail_reads_a_bounded_number_of_queries(rental, people, today):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = Api(people.staff_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(f"/houses/{rental.pk}").status_code == 200
        return len(ctx)

    inspect(people.worker_a1, rental, today - dt.timedelta(days=4), results=all_pass(H02="fail"))
    count()  # the first request of a session does more (session, login bookkeeping)
    one = count()
    for days, failed in ((3, "H04"), (2, "H01"), (1, "Z02")):
        inspect(
            people.worker_a1, rental, today - dt.timedelta(days=days), results=all_pass(**{failed: "fail"})
        )
    body = api.get(f"/houses/{rental.pk}").json()
    assert len(body["open_cases"]) == 4 and sum(len(i["cases"]) for i in body["inspections"]) == 4
    assert count() == one <= 12  # no query per inspection or case


def test_register_a_rental_house(world, people):
    api = Api(people.worker_a1)
    body = api.ok(
        api.post(
            "/houses",
            {"house_id": house_of(world.a1, "0301").pk, "category_code": "shared", "rooms": ["1", "2"]},
        ),
        201,
    )
    assert body["rooms"] == ["1", "2"] and body["grade"] == "" and len(body["code"]) == 32
    zh = Api(people.worker_a1, language="zh-hans")
    again = zh.post(
        "/houses", {"house_id": house_of(world.a1, "0301").pk, "category_code": "nope", "rooms": ["1", "1"]}
    )
    problem = assert_problem(again, 422, field="category_code", language="zh")
    assert {e["field"] for e in problem["errors"]} == {"house_id", "category_code", "rooms"}
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in problem["errors"]), problem
    assert_problem(api.post("/houses", {"house_id": house_of(world.b1).pk, "category_code": "whole"}), 404)
    assert_problem(
        Api(people.leader).post(
            "/houses", {"house_id": house_of(world.a1, "0302").pk, "category_code": "whole"}
        ),
        403,
    )
    assert RentalHouse.objects.count() == 1 and json.loads(api.get("/houses").content)["count"] == 1


def test_the_list_filters_by_area_grade_and_category(many, people, world):
    api = Api(people.sub_staff)
    assert api.get("/houses").json()["count"] == 7
    assert api.get("/houses", {"area": world.comm_b.code}).json()["count"] == 2
    assert api.get("/houses", {"area": world.grid_a2.code}).json()["count"] == 2
    assert api.get("/houses", {"area": "440309999"}).json()["count"] == 0
    assert [h["grade"] for h in api.get("/houses", {"grade": "ungraded"}).json()["items"]] == [""]
    assert {h["category"] for h in api.get("/houses", {"category": "group"}).json()["items"]} == {"group"}
    rows = api.get("/houses", {"grade": "strict"}).json()["items"]
    assert len(rows) == 2 and {r["colour"] for r in rows} == {"orange"}
    assert Api(people.staff_a).get("/houses", {"area": world.comm_b.code}).json()["count"] == 0
