"""The QR label sheet (一屋一码): one A4 page per 21 houses of the list's filters over the user's scope, each
label with its house's address, grade and code and a QR code that holds the public page's URL — read back
from the PDF and compared module by module — and nothing about a person; the cap's 400, one house, the
language of the request."""

from __future__ import annotations

import io
import re

import pytest
import segno
from django.test import Client, override_settings

from gridgov.rental import selectors
from gridgov.rental.labels import QUIET_ZONE
from gridgov.rental.models import RentalHouse
from gridgov.rental.tests.conftest import Api, all_pass, inspect, make_rental
from gridgov.testing import assert_problem


@pytest.fixture
def street(world, people, rental, today):
    """24 rental houses in community A (the `rental` fixture's with its landlord, tenant and filing number,
    and every other house of grids A1 and A2) of every grade and none, and two in community B."""
    a = world.communities["a"]
    houses = [rental]
    for building in a.buildings:
        for house in building.houses.all():
            if not RentalHouse.objects.filter(house=house).exists():
                houses.append(make_rental(people.staff_a, building, house.room))
    grades = [all_pass(), all_pass(H02="fail", S01="fail"), all_pass(C05="fail"), all_pass(C01="fail"), None]
    for i, h in enumerate(houses):
        if grades[i % 5] is not None:
            inspect(people.staff_a, h, today, results=grades[i % 5])
    b = world.communities["b"].buildings[0]
    others = [make_rental(people.staff_b, b, room) for room in ("0201", "0202")]
    for h in [*houses, *others]:
        h.refresh_from_db()
    return houses, others


def _pdf(response):
    from pypdf import PdfReader

    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    return PdfReader(io.BytesIO(response.content))


def _text(reader) -> str:
    """The text of every page, without white space (an address may break between its parts)."""
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _qr_matrices(reader) -> set[tuple[tuple[int, ...], ...]]:
    """The QR codes drawn in the PDF, read back from their images as module matrices (1 = dark)."""
    found = set()
    for page in reader.pages:
        for image in page.images:
            img = image.image.convert("L")
            w, h = img.size
            px = img.load()
            rows = tuple(
                tuple(1 if px[x, y] < 128 else 0 for x in range(QUIET_ZONE, w - QUIET_ZONE))
                for y in range(QUIET_ZONE, h - QUIET_ZONE)
            )
            found.add(rows)
    return found


def _matrix(url: str):
    return tuple(tuple(row) for row in segno.make(url, error="m", micro=False).matrix)


def test_the_sheet_prints_the_houses_of_the_filter_in_scope_and_nothing_personal(street, people):
    mine, others = street
    response = Api(people.staff_a, language="zh-hans").get("/labels.pdf")
    reader = _pdf(response)
    assert len(reader.pages) == 2  # 24 labels: 21 on the first page, 3 on the second
    text = _text(reader)
    for house in mine:
        assert _squash(str(house.house)) in text, str(house.house)
        assert house.code in text
        assert _squash(f"http://testserver/m/rental/{house.code}") in text
    for house in others:  # another community's houses: not on community A's sheet
        assert house.code not in text
    for secret in ("房东张三", "租客李四", "BA2026-0001", "1390000"):
        assert secret not in text, secret
    assert b"BA2026" not in response.content  # the filing number: not even in the bytes
    assert "宽管" in text and "关注" in text and "严管" in text and "禁止" in text and "未评级" in text
    # Each QR code holds its house's public URL, module for module.
    assert _qr_matrices(reader) == {_matrix(f"http://testserver/m/rental/{h.code}") for h in mine}


def test_the_list_filters_narrow_the_sheet_and_one_house_prints_alone(street, people, world):
    mine, others = street
    api = Api(people.staff_a, language="zh-hans")
    prohibited = [h for h in mine if h.grade == "prohibited"]
    reader = _pdf(api.get("/labels.pdf", {"grade": "prohibited"}))
    text = _text(reader)
    assert len(reader.pages) == 1 and {h.code for h in mine if h.code in text} == {h.code for h in prohibited}
    in_a2 = [h for h in mine if h.house.building.grid_id == world.grid_a2.pk]
    text = _text(_pdf(api.get("/labels.pdf", {"area": world.grid_a2.code})))
    assert {h.code for h in mine if h.code in text} == {h.code for h in in_a2}

    one = mine[3]
    reader = _pdf(api.get("/labels.pdf", {"house": one.pk}))
    text = _text(reader)
    assert len(reader.pages) == 1 and one.code in text and _squash(str(one.house)) in text
    assert all(h.code not in text for h in mine if h != one)
    assert _qr_matrices(reader) == {_matrix(f"http://testserver/m/rental/{one.code}")}
    # Another community's house: 404, as everywhere; out of scope filters print nothing.
    assert_problem(api.get("/labels.pdf", {"house": others[0].pk}), 404)
    assert_problem(Api(people.staff_b).get("/labels.pdf", {"house": one.pk}), 404)
    assert_problem(Api(people.staff_a).get("/labels.pdf", {"area": world.grid_b1.code}), 400)
    assert_problem(Api(people.staff_a).get("/labels.pdf", {"grade": "purple"}), 422)
    assert_problem(Api(people.resident).get("/labels.pdf"), 400)  # no houses in a resident's scope
    assert Client().get("/api/v1/rental/labels.pdf").status_code in (401, 403)


def test_too_many_labels_is_a_400_that_says_to_narrow_the_filter(street, people, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_LABELS", 10)
    problem = assert_problem(Api(people.staff_a, language="zh-hans").get("/labels.pdf"), 400, language="zh")
    assert "24" in problem["detail"] and "10" in problem["detail"] and "缩小" in problem["detail"]
    problem = assert_problem(Api(people.staff_a, language="en").get("/labels.pdf"), 400, language="en")
    assert "24" in problem["detail"] and "Narrow the filter" in problem["detail"]
    _pdf(Api(people.staff_a).get("/labels.pdf", {"grade": "prohibited"}))  # 5 houses: within the cap


@override_settings(GRIDGOV_PUBLIC_URL="https://grid.example.gov.cn")
def test_the_labels_carry_the_configured_public_address_and_the_request_language(street, people):
    mine, _others = street
    one = next(h for h in mine if h.grade == "relaxed")
    reader = _pdf(Api(people.staff_a, language="en").get("/labels.pdf", {"house": one.pk}))
    text = _text(reader)
    url = f"https://grid.example.gov.cn/m/rental/{one.code}"
    assert _squash(url) in text and _qr_matrices(reader) == {_matrix(url)}
    assert "Relaxed" in text and _squash("One house, one code") in text and "宽管" not in text
    unrated = next(h for h in mine if not h.grade)
    assert "Notgradedyet" in _text(
        _pdf(Api(people.staff_a, language="en").get("/labels.pdf", {"house": unrated.pk}))
    )
    zh = _text(_pdf(Api(people.staff_a, language="zh-hans").get("/labels.pdf", {"house": one.pk})))
    assert "宽管" in zh and "一屋一码" in zh and "Relaxed" not in zh
