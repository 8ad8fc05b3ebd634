"""The figures of a period (inspections on time, hazards opened and closed, rectification cases open)
recomputed from the raw records per child area; a bad period is refused with 400; the Excel export reads
back with the API's numbers, in Chinese by default and in English when asked."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import openpyxl
import pytest
from django.utils import timezone

from gridgov.cases.models import Case, Status
from gridgov.rental.models import Inspection, RentalCase
from gridgov.rental.selectors import ACTIVITY_FIELDS
from gridgov.rental.tests.conftest import Api, all_pass, inspect, make_rental
from gridgov.territory.models import Area
from gridgov.testing import assert_problem

DAY = dt.timedelta(days=1)


@pytest.fixture
def history(world, people, today):
    """Houses in grids A1, A2 and B1 with inspections on time and late, hazards opened, one closed, and a
    rectification case after three reds in a row."""
    a1 = make_rental(people.staff_a, world.a1, "0201", "whole", rooms=["1"])
    a2 = make_rental(people.staff_a, world.grid_a2.buildings.first(), "0101", "group", rooms=["1", "2"])
    b1 = make_rental(people.staff_b, world.b1, "0101", "shared", rooms=["1"])
    inspect(people.staff_a, a1, today - 40 * DAY)  # relaxed: due about 21 days later
    inspect(people.staff_a, a1, today - 10 * DAY)  # late (due about 19 days ago)
    inspect(people.staff_a, a1, today, results=all_pass(H02="fail", H04="fail"))  # on time, two hazards
    for days_ago in (20, 13, 6):  # strict every 7 days: on time each, the third opens the rectification
        inspect(people.staff_a, a2, today - days_ago * DAY, results=all_pass(C01="fail"))
    inspect(people.staff_b, b1, today - 50 * DAY, results=all_pass(H01="fail"))  # a hazard long ago
    inspect(people.staff_b, b1, today - 2 * DAY, results=all_pass(H03="fail"))  # late, a hazard
    # Cases are dated by when they were opened; pin them to the inspection's day, and close two.
    for link in RentalCase.objects.select_related("inspection"):
        opened = timezone.make_aware(dt.datetime.combine(link.inspection.inspected_on, dt.time(10)))
        Case.objects.filter(pk=link.case_id).update(created_at=opened)
    h01 = RentalCase.objects.get(item__code="H01").case_id  # opened 50 days ago, closed in the period
    closed = timezone.make_aware(dt.datetime.combine(today - 3 * DAY, dt.time(16)))
    Case.objects.filter(pk=h01).update(status=Status.CLOSED, closed_at=closed)
    h04 = RentalCase.objects.get(item__code="H04").case_id  # handled, not closed yet
    Case.objects.filter(pk=h04).update(status=Status.HANDLED)
    return [a1, a2, b1]


def raw_activity(path: str, start: dt.date, end: dt.date) -> Counter:
    """The period's figures counted again from the raw records, one record at a time."""
    out: Counter = Counter()
    for i in Inspection.objects.filter(rental_house__house__building__grid__path__startswith=path):
        if not start <= i.inspected_on <= end:
            continue
        out["inspections"] += 1
        before = [
            p for p in Inspection.objects.filter(rental_house=i.rental_house_id)
            if (p.inspected_on, p.pk) < (i.inspected_on, i.pk)
        ]  # fmt: skip
        if before:
            due = max(before, key=lambda p: (p.inspected_on, p.pk)).next_due_on
            out["inspections_due"] += 1
            out["on_time"] += i.inspected_on <= due
    for link in RentalCase.objects.filter(rental_house__house__building__grid__path__startswith=path):
        case = link.case
        if link.kind == "hazard":
            out["hazards_opened"] += start <= timezone.localtime(case.created_at).date() <= end
            out["hazards_closed"] += bool(
                case.status == Status.CLOSED and start <= timezone.localtime(case.closed_at).date() <= end
            )
        elif case.status not in (Status.CLOSED, Status.RATED, Status.REJECTED):
            out["rectification_open"] += 1
    return out


def check(row: dict, start: dt.date, end: dt.date) -> None:
    raw = raw_activity(Area.objects.get(code=row["code"]).path, start, end)
    for name in ACTIVITY_FIELDS:
        assert row[name] == raw[name], (row["code"], name)
    assert row["on_time_share"] == (
        round(raw["on_time"] / raw["inspections_due"], 4) if raw["inspections_due"] else None
    )


def test_the_period_figures_match_the_raw_records_per_child_area(history, people, world, today):
    api = Api(people.sub_staff)
    body = api.get("/figures/activity").json()  # the last 30 days by default
    start = today - 29 * DAY
    assert (body["date_from"], body["date_to"]) == (start.isoformat(), today.isoformat())
    assert [c["code"] for c in body["children"]] == [world.comm_a.code, world.comm_b.code]
    for row in [body["area"], *body["children"]]:
        check(row, start, today)
    top = body["area"]
    assert (top["inspections"], top["inspections_due"], top["on_time"]) == (6, 5, 3)
    assert (top["hazards_opened"], top["hazards_closed"], top["rectification_open"]) == (3, 1, 1)
    assert top["on_time_share"] == 0.6

    # A longer period (within 366 days) and the drill-down to the block and its grids.
    start = today - 365 * DAY
    for code in (world.sub.code, world.comm_a.code, world.block_a.code):
        body = api.get("/figures/activity", {"area": code, "date_from": start, "date_to": today}).json()
        for row in [body["area"], *body["children"]]:
            check(row, start, today)
    assert body["area"]["inspections"] == 6 and body["area"]["inspections_due"] == 4
    # Only a start: 30 days from it.
    body = api.get("/figures/activity", {"date_from": today - 60 * DAY}).json()
    assert body["date_to"] == (today - 31 * DAY).isoformat()
    check(body["area"], today - 60 * DAY, today - 31 * DAY)


def test_a_bad_period_or_an_area_outside_the_scope_is_refused(history, people, world, today):
    api = Api(people.sub_staff, language="zh-hans")
    for path in ("/figures/activity", "/figures.xlsx"):
        after = api.get(path, {"date_from": today, "date_to": today - DAY})
        assert_problem(after, 400, field="date_from", language="zh")
        longer = api.get(path, {"date_from": today - 366 * DAY, "date_to": today})
        assert "366" in assert_problem(longer, 400, field="date_to", language="zh")["detail"]
        assert_problem(Api(people.sub_staff).get(path, {"date_to": "2026-13-01"}), 422)
        assert_problem(Api(people.staff_a).get(path, {"area": world.comm_b.code}), 404)
        assert_problem(Api(people.resident).get(path), 404)
    english = Api(people.sub_staff).get("/figures/activity", {"date_from": today, "date_to": today - DAY})
    assert (
        assert_problem(english, 400, language="en")["detail"] == "The start of the period lies after its end."
    )


def _sheets(response) -> dict[str, list[tuple]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"].startswith("attachment;")
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def test_the_excel_export_has_the_api_numbers_in_chinese_or_english(history, people, world, today):
    api = Api(people.sub_staff, language="zh-hans")
    params = {"area": world.comm_a.code, "date_from": today - 45 * DAY, "date_to": today}
    figures = api.get("/figures", {"area": world.comm_a.code}).json()
    activity = api.get("/figures/activity", params).json()
    sheets = _sheets(api.get("/figures.xlsx", params))
    assert list(sheets) == ["等级", "租住类别", "检查及时率", "隐患与整治"]
    areas = [*figures["children"], figures["area"]]

    grades = sheets["等级"]
    assert grades[0][:4] == ("区域代码", "区域", "宽管 · 户数", "宽管 · 间数")
    for row, area in zip(grades[1:], areas, strict=True):
        assert row[0] == area["code"]
        expected = []
        for g in ("relaxed", "watch", "strict", "prohibited", "ungraded"):
            expected += [area["grades"][g]["houses"], area["grades"][g]["rooms"]]
        assert list(row[2:]) == [*expected, area["houses"], area["rooms"]]
    categories = sheets["租住类别"]
    codes = list(figures["category_names"])
    for row, area in zip(categories[1:], areas, strict=True):
        expected = []
        for c in codes:
            got = area["categories"].get(c, {"houses": 0, "rooms": 0})
            expected += [got["houses"], got["rooms"]]
        assert list(row[2:]) == expected
    rows = [*activity["children"], activity["area"]]
    timeliness = sheets["检查及时率"]
    for row, area in zip(timeliness[1 : len(rows) + 1], rows, strict=True):
        assert row[0] == area["code"]
        assert list(row[2:6]) == [
            area["inspections"],
            area["inspections_due"],
            area["on_time"],
            area["on_time_share"],
        ]
    assert any("统计期" in str(r[0]) for r in timeliness[len(rows) + 1 :] if r and r[0])
    hazards = sheets["隐患与整治"]
    for row, area in zip(hazards[1 : len(rows) + 1], rows, strict=True):
        assert list(row[2:5]) == [area["hazards_opened"], area["hazards_closed"], area["rectification_open"]]
    assert activity["area"]["hazards_opened"] == 2 and activity["area"]["rectification_open"] == 1

    english = _sheets(Api(people.sub_staff, language="en").get("/figures.xlsx", params))
    assert list(english) == ["Grades", "Tenancy categories", "Timeliness", "Hazards and rectification"]
    assert english["Grades"][0][:4] == ("Area code", "Area", "Relaxed · houses", "Relaxed · rooms")
    assert [r[2:] for r in english["Grades"][1:]] == [r[2:] for r in grades[1:]]
    assert english["Grades"][-1][1].startswith("Total") and grades[-1][1].startswith("合计")
