"""Imports of rental lists and existing gradings through the tabular kernel (every fault in the error
workbook, scope, order, idempotence), and the export of the rental list (scope, language, masking, the
round trip export → import)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.utils import translation

from gridgov.cases.models import Case
from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular.validators import make_credit_code, make_id_number
from gridgov.registry import services as registry
from gridgov.registry.models import PiiAccessLog
from gridgov.rental import counts, jobs, services
from gridgov.rental.importer import parse_rooms
from gridgov.rental.models import Inspection, RentalHouse, RentalImportJob, RentalRoom
from gridgov.rental.tests.conftest import TODAY, Api, inspect, resident
from gridgov.testing import immediate_tasks

LIST_HEADER = ["楼栋编码", "单元", "房号", "租住类别", "房东身份证号", "房东统一社会信用代码", "租赁备案号",
               "责任书签订日期", "限住人数", "出租房间"]  # fmt: skip
GRADING_HEADER = ["一屋一码", "楼栋编码", "单元", "房号", "分级", "分级日期", "备注"]


@pytest.fixture(autouse=True)
def immediate_queue(settings, tmp_path):
    """Huey runs tasks at once; imports keep their files in a temporary data directory."""
    settings.DATA_DIR = tmp_path
    with immediate_tasks():
        yield


@pytest.fixture
def refreshed(monkeypatch):
    """The grid ids each written batch handed to counts.refresh."""
    calls: list[set[int]] = []
    monkeypatch.setattr(counts, "refresh", lambda grid_ids: calls.append(set(grid_ids)))
    return calls


def xlsx(rows: list[list], header: list[str]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, header)
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row):
            ws.write_string(r, c, str(v))
    wb.close()
    return buffer.getvalue()


def run(actor, kind: str, data: bytes, name: str = "list.xlsx", mode: str = "valid_rows") -> RentalImportJob:
    job = services.create_import_job(
        actor=actor, stream=io.BytesIO(data), file_name=name, size=len(data), kind=kind, mode=mode,
        enqueue=False,
    )  # fmt: skip
    with translation.override("en"):
        return jobs.run(job.pk)


def error_book(job) -> dict[int, str]:
    """The error workbook read back with openpyxl: row number in the upload → the reasons column."""
    book = openpyxl.load_workbook(io.BytesIO(jobs.error_workbook_bytes(job)))
    ws = book.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    return {int(r[0]): r[-1] for r in rows[1:]}


def list_row(building, room: str, category: str = "整租", *, person: str = "", unit: str = "",
             filing: str = "", pledge: str = "", capacity: str = "", rooms: str = "") -> list[str]:  # fmt: skip
    return [building.code, "1", room, category, person, unit, filing, pledge, capacity, rooms]


def a2(world):
    """A building of community A in its second grid."""
    return world.communities["a"].buildings[2]


def id_of(i: int) -> str:
    return make_id_number("110105", dt.date(1980, 1, 1 + i), i, "M")


@pytest.fixture
def landlords(world, people):
    person = resident(people.staff_a, world.a1, "房东王五", 5, room="0102")
    code = make_credit_code("91", "440309", "MA5DC6QX9")
    unit = registry.create_unit(
        actor=people.staff_a, data={"name": "深圳某某物业有限公司", "credit_code": code, "kind": "company",
                                    "building_code": world.a1.code},
    )  # fmt: skip
    return person, unit


# --- the rental list -----------------------------------------------------------------------------------
def test_a_valid_list_creates_rental_houses_with_rooms_and_landlords(world, people, landlords, refreshed):
    person, unit = landlords
    rows = [
        list_row(world.a1, "0201", person=id_of(5), filing="BA-1", pledge="2026-03-01", capacity="6",
                 rooms="A、B,C"),
        list_row(world.a1, "0202", "shared", unit=unit.credit_code, rooms="3"),
        list_row(a2(world), "0101", "群租"),
    ]  # fmt: skip
    job = run(people.staff_a, "houses", xlsx(rows, LIST_HEADER))
    assert (job.status, job.inserted, job.error_rows) == ("done", 3, 0)
    first = RentalHouse.objects.get(house__building=world.a1, house__room="0201")
    assert first.landlord_resident_id == person.pk and first.landlord_unit_id is None
    assert (first.category.code, first.filing_number, first.capacity_limit) == ("whole", "BA-1", 6)
    assert first.pledge_signed and first.pledge_date == dt.date(2026, 3, 1)
    assert sorted(first.rooms.values_list("number", flat=True)) == ["A", "B", "C"] and first.rooms_count == 3
    second = RentalHouse.objects.get(house__building=world.a1, house__room="0202")
    assert second.landlord_unit_id == unit.pk and second.category.code == "shared"
    assert sorted(second.rooms.values_list("number", flat=True)) == ["1", "2", "3"]
    third = RentalHouse.objects.get(house__building=a2(world))
    assert third.category.code == "group" and third.rooms_count == 0 and not third.pledge_signed
    assert first.grade == "" and first.next_due_on is None  # graded by the first inspection
    assert refreshed == [{world.a1.grid_id, a2(world).grid_id}]
    # The landlord looked up by ID number is on the personal-information access log.
    assert PiiAccessLog.objects.filter(action="search", detail__via="rental import").exists()


def test_every_fault_is_in_the_error_workbook_and_nothing_bad_is_written(world, people, landlords, rental):
    _person, unit = landlords
    masked = id_of(5)[:3] + "*" * 11 + id_of(5)[-4:]
    rows = [
        list_row(world.a1, "0909"),  # 2 unknown house
        list_row(world.b1, "0101"),  # 3 outside the area
        list_row(world.a1, "0201", "别墅"),  # 4 unknown category
        list_row(world.a1, "0202", person=id_of(5), unit=unit.credit_code),  # 5 both landlord kinds
        list_row(world.a1, "0301"),  # 6 fine
        list_row(world.a1, "0301"),  # 7 duplicate in the file
        list_row(world.a1, "0101"),  # 8 already a rental house (the fixture's)
        list_row(world.a1, "0302", pledge="2026-13-45"),  # 9 bad date
        list_row(a2(world), "0101", capacity="四人"),  # 10 capacity not a number
        list_row(a2(world), "0102", person=masked),  # 11 a masked ID number
        list_row(a2(world), "0201", person=id_of(9)),  # 12 nobody registered with this number
        list_row(a2(world), "0202", unit=make_credit_code("91", "440309", "MA5DC6QX8")),  # 13 no such unit
        list_row(a2(world), "0301", rooms="A、A"),  # 14 a room twice
        list_row(a2(world), "0302", pledge="2027-01-01"),  # 15 a date in the future
    ]
    before = RentalHouse.objects.count()
    job = run(people.staff_a, "houses", xlsx(rows, LIST_HEADER))
    assert job.status == "done" and job.inserted == 1 and job.error_rows == 13
    assert RentalHouse.objects.count() == before + 1
    assert RentalHouse.objects.filter(house__building=world.a1, house__room="0301").count() == 1
    with translation.override("en"):
        book = error_book(job)
    expected = {
        2: "No house 0909 (unit 1) in this building",
        3: "The building lies outside your area",
        4: "Choose one of: 整租、合租、群租、家庭旅馆、宿舍",
        5: "Give the landlord as a person or as a unit, not both",
        7: "Duplicate: the same value is in row 6",
        8: "This house is already a rental house",
        9: "Enter a date as YYYY-MM-DD",
        10: "Enter a whole number between 1 and 1000",
        11: "The ID number is masked; enter the full number",
        12: "No resident with this ID number in your area",
        13: "No unit with this credit code in your area",
        14: "Give the rooms as numbers separated by",
        15: "The date lies in the future",
    }
    assert set(book) == set(expected)
    for row, fragment in expected.items():
        assert fragment in book[row], (row, book[row])
    # The errors API names the column in the user's language.
    errors = Api(people.staff_a).ok(Api(people.staff_a).get(f"/imports/{job.pk}/errors"))["items"]
    assert {"row": 4, "column": "category", "column_label": "Tenancy category (租住类别)"}.items() <= next(
        e for e in errors if e["row"] == 4
    ).items()


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(world, people):
    rows = [list_row(world.a1, "0201"), list_row(world.a1, "0909")]
    job = run(people.staff_a, "houses", xlsx(rows, LIST_HEADER), mode="all_or_nothing")
    assert job.status == "rejected" and job.inserted == 0
    assert not RentalHouse.objects.exists()
    job = run(people.staff_a, "houses", xlsx(rows[:1], LIST_HEADER), mode="all_or_nothing")
    assert job.status == "done" and RentalHouse.objects.count() == 1


def test_a_house_of_another_community_is_an_error_and_nothing_is_written(world, people):
    rows = [list_row(world.a1, "0201"), list_row(world.a1, "0202")]
    job = run(people.staff_b, "houses", xlsx(rows, LIST_HEADER))
    assert (job.inserted, job.error_rows) == (0, 2)
    assert not RentalHouse.objects.exists()
    with translation.override("en"):
        assert set(error_book(job).values()) == {"楼栋编码(B): The building lies outside your area"}


def test_uploading_the_same_list_again_reports_duplicates_and_doubles_nothing(world, people):
    rows = [list_row(world.a1, "0201", rooms="A、B"), list_row(world.a1, "0202", rooms="2")]
    first = run(people.staff_a, "houses", xlsx(rows, LIST_HEADER))
    assert first.inserted == 2
    again = run(people.staff_a, "houses", xlsx(rows, LIST_HEADER))
    assert (again.status, again.inserted, again.error_rows) == ("done", 0, 2)
    assert set(error_book(again).values()) == {"房号(D): This house is already a rental house"}
    assert RentalHouse.objects.count() == 2 and RentalRoom.objects.count() == 4


def test_a_wrong_header_rejects_the_file(world, people):
    job = run(people.staff_a, "houses", xlsx([["x"]], ["姓名"]))
    assert job.status == "rejected" and "Required columns are missing" in jobs.render(
        job.file_error["message"], job.file_error["params"]
    )


@pytest.mark.parametrize(
    "text, rooms",
    [("A、B", ["A", "B"]), ("101,102，103", ["101", "102", "103"]), ("3", ["1", "2", "3"]), ("", []),
     ("A、A", None), ("201", None), ("0301", ["0301"])],
)  # fmt: skip
def test_rooms_are_numbers_or_a_count(text, rooms):
    assert parse_rooms(text) == rooms


# --- existing gradings -----------------------------------------------------------------------------------
def test_gradings_set_the_grade_and_next_due_day_and_open_no_case(world, people, rental, refreshed):
    rows = [[rental.code, "", "", "", "严管", "2026-11-30", "旧台账"]]
    job = run(people.staff_a, "gradings", xlsx(rows, GRADING_HEADER))
    assert (job.status, job.inserted, job.error_rows) == ("done", 1, 0)
    rental.refresh_from_db()
    # strict: 7 days → 2026-12-07, a Monday (a working day)
    assert (rental.grade, rental.last_inspected_on, rental.next_due_on) == (
        "strict",
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 7),
    )
    assert rental.red_streak == 1
    imported = Inspection.objects.get(rental_house=rental)
    assert (imported.source, imported.score, imported.note, imported.inspector) == (
        "import",
        None,
        "旧台账",
        people.staff_a,
    )
    assert not imported.results.exists() and not Case.objects.exists()
    assert refreshed == [{world.a1.grid_id}]
    # The house page shows it as imported (no score).
    page = Api(people.staff_a).ok(Api(people.staff_a).get(f"/houses/{rental.pk}"))
    assert page["inspections"][0]["source"] == "import" and page["inspections"][0]["score"] is None
    assert page["grade"] == "strict" and page["next_due_on"] == "2026-12-07"


def test_gradings_by_address_english_grades_and_every_fault(world, people, rental):
    other = services.create_rental_house(
        actor=people.staff_a, house_id=world.a1.houses.get(room="0201").pk, category_code="group"
    )
    inspect(people.staff_a, other, dt.date(2026, 11, 20))
    rows = [
        ["", world.a1.code, "1", "0101", "relaxed", "2026-11-25", ""],  # 2 fine, by address
        ["", world.a1.code, "1", "0201", "watch", "2026-11-10", ""],  # 3 older than the last inspection
        ["", world.a1.code, "1", "0201", "关注", "2026-11-20", ""],  # 4 a grading on that day already
        ["nosuchcode", "", "", "", "宽管", "2026-11-25", ""],  # 5 unknown house code
        ["", world.a1.code, "1", "0301", "宽管", "2026-11-25", ""],  # 6 not a rental house
        ["", world.a1.code, "1", "0101", "宽管", "2026-11-26", ""],  # 7 the same house twice
        ["", a2(world).code, "1", "0101", "优秀", "2026-11-25", ""],  # 8 unknown grade (and not rental)
        ["", world.a1.code, "1", "0201", "宽管", "2026-12-24", ""],  # 9 in the future
        ["", "", "", "", "宽管", "2026-11-25", ""],  # 10 no house at all
    ]
    job = run(people.staff_a, "gradings", xlsx(rows, GRADING_HEADER))
    assert (job.inserted, job.error_rows) == (1, 8)
    with translation.override("en"):
        book = error_book(job)
    assert "already inspected on a later day (2026-11-20)" in book[3]
    assert "already has a grading on this day" in book[4]
    assert "No rental house with this code" in book[5]
    assert "This house is not a rental house" in book[6]
    assert "Duplicate: the same value is in row 2" in book[7]
    assert "Choose one of: 宽管、关注、严管、禁止" in book[8]
    assert "The date lies in the future" in book[9]
    assert "This cell is required" in book[10]
    rental.refresh_from_db()
    other.refresh_from_db()
    assert rental.grade == "relaxed" and rental.next_due_on == dt.date(2026, 12, 16)  # 21 days
    assert other.last_inspected_on == dt.date(2026, 11, 20)  # unchanged
    # Group rental: 7 days at most whatever the grade (the stricter of category and grade).
    job = run(
        people.staff_a, "gradings", xlsx([[other.code, "", "", "", "宽管", "2026-11-27", ""]], GRADING_HEADER)
    )
    other.refresh_from_db()
    assert job.inserted == 1 and other.next_due_on == dt.date(2026, 12, 4)


def test_a_later_inspection_continues_the_red_streak_of_imported_gradings(world, people, rental):
    rows = [[rental.code, "", "", "", "严管", "2026-11-20", ""]]
    run(people.staff_a, "gradings", xlsx(rows, GRADING_HEADER))
    rows = [[rental.code, "", "", "", "禁止", "2026-11-27", ""]]
    run(people.staff_a, "gradings", xlsx(rows, GRADING_HEADER))
    rental.refresh_from_db()
    assert rental.red_streak == 2 and not Case.objects.exists()
    inspect(people.staff_a, rental, TODAY, results={}, flags=["refused"])
    rental.refresh_from_db()
    assert rental.red_streak == 3
    assert Case.objects.filter(rental_link__kind="rectification").count() == 1


def test_gradings_of_another_community_are_errors(world, people, rental):
    rows = [
        [rental.code, "", "", "", "禁止", "2026-11-30", ""],
        ["", world.a1.code, "1", "0101", "禁止", "2026-11-30", ""],
    ]
    job = run(people.staff_b, "gradings", xlsx(rows, GRADING_HEADER))
    assert (job.inserted, job.error_rows) == (0, 2)
    rental.refresh_from_db()
    assert rental.grade == "" and not Inspection.objects.exists()


def test_all_or_nothing_gradings_take_back_on_a_late_conflict(world, people, rental):
    """The undo of a grading import derives the house's state again from what is left."""
    inspect(people.staff_a, rental, dt.date(2026, 11, 2))
    job = RentalImportJob.objects.create(kind="gradings", mode="all_or_nothing", file_name="g.csv",
                                         created_by=people.staff_a)  # fmt: skip
    from gridgov.rental.importer import GradingRecord

    services.record_imported_gradings(
        [GradingRecord(2, rental.pk, "prohibited", dt.date(2026, 11, 30), "")], user_id=people.staff_a.pk,
        job_id=job.pk,
    )  # fmt: skip
    rental.refresh_from_db()
    assert rental.grade == "prohibited"
    services.take_back_imported_gradings(job.pk)
    rental.refresh_from_db()
    assert (rental.grade, rental.last_inspected_on, rental.red_streak) == ("relaxed", dt.date(2026, 11, 2), 0)


# --- the API ---------------------------------------------------------------------------------------------
def test_templates_upload_progress_and_error_workbook_through_the_api(
    world, people, django_capture_on_commit_callbacks
):
    api = Api(people.staff_a)
    for kind, first in (("houses", "楼栋编码"), ("gradings", "一屋一码")):
        r = api.get("/imports/template", {"kind": kind, "format": "xlsx"})
        assert r.status_code == 200
        ws = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
        assert ws.cell(1, 1).value.rstrip("*") == first
    data = xlsx([list_row(world.a1, "0201"), list_row(world.a1, "0909")], LIST_HEADER)
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        created = api.ok(api.upload("/imports", data, "list.xlsx", kind="houses"), 201)
    assert created["status"] == "queued"  # the job runs after the upload's commit
    body = api.ok(api.get(f"/imports/{created['id']}"))
    assert body["status"] == "done" and body["inserted"] == 1 and body["errors"] == 1
    assert body["error_workbook_url"] == f"/api/v1/rental/imports/{body['id']}/error-workbook"
    assert [j["id"] for j in api.ok(api.get("/imports"))["items"]] == [body["id"]]
    r = api.get(body["error_workbook_url"])
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    assert PiiAccessLog.objects.filter(action="error_file", object_type="rental_import").count() == 1
    # Someone else's job: 404; a grid worker may not import: 403, nothing stored.
    other = Api(people.staff_b)
    assert other.get(f"/imports/{body['id']}").status_code == 404
    assert other.get(body["error_workbook_url"]).status_code == 404
    worker = Api(people.worker_a1, language="zh-hans")
    r = worker.upload("/imports", data, "list.xlsx", kind="houses")
    assert r.status_code == 403 and RentalImportJob.objects.count() == 1
    assert api.upload("/imports", data, "list.xlsx", kind="tenants").status_code == 422


def test_subdistrict_staff_import_into_every_community_of_the_subdistrict(world, people):
    job = run(
        people.sub_staff,
        "houses",
        xlsx([list_row(world.a1, "0201"), list_row(world.b1, "0201")], LIST_HEADER),
    )
    assert job.inserted == 2


# --- export ------------------------------------------------------------------------------------------------
def _sheet(response) -> list[list]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    ws = openpyxl.load_workbook(io.BytesIO(body)).worksheets[0]
    return [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]


def test_export_is_scoped_masked_logged_and_in_the_users_language(world, people, landlords, rental):
    services.create_rental_house(
        actor=people.staff_b, house_id=world.b1.houses.get(room="0101").pk, category_code="shared"
    )
    inspect(people.staff_a, rental, TODAY)
    r = Api(people.staff_a, language="zh-hans").get("/houses.xlsx")
    assert r.status_code == 200 and r["Content-Disposition"].startswith(
        'attachment; filename="rental-houses-'
    )
    rows = _sheet(r)
    assert rows[0][:4] == ["楼栋编码", "地址", "单元", "房号"] and rows[0][-4:] == [
        "分级",
        "最近检查日期",
        "下次检查日期",
        "一屋一码",
    ]
    assert len(rows) == 2  # community B's house is not in staff A's export
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["房号"] == "0101" and row["租住类别"] == "整租" and row["出租房间"] == "A、B"
    assert row["房东身份证号"].count("*") == 11  # personal data masked
    assert row["分级"] == "宽管" and row["一屋一码"] == rental.code and row["下次检查日期"] == "2026-12-25"
    log = PiiAccessLog.objects.get(action="export", object_type="rental_house")
    assert log.count == 1 and log.fields == []
    # English headings; filters narrow it; an area outside the scope gives nothing.
    en = _sheet(Api(people.staff_a).get("/houses.xlsx", {"grade": "relaxed"}))
    assert en[0][:4] == ["Building code", "Address", "Unit", "Room"] and en[1][-4] == "Relaxed"
    assert len(_sheet(Api(people.staff_a).get("/houses.xlsx", {"grade": "strict"}))) == 1
    assert len(_sheet(Api(people.staff_a).get("/houses.xlsx", {"area": world.comm_b.code}))) == 1
    # Whoever reads no rental houses may not export.
    assert Api(people.resident).get("/houses.xlsx").status_code == 403


def test_export_then_import_elsewhere_round_trips(world, people, landlords):
    _person, unit = landlords
    rows = [
        list_row(world.a1, "0201", filing="BA-9", pledge="2026-02-02", capacity="3", rooms="A、B"),
        list_row(world.a1, "0202", "宿舍", unit=unit.credit_code, rooms="101、102"),
    ]
    assert run(people.staff_a, "houses", xlsx(rows, LIST_HEADER)).inserted == 2

    def snapshot():
        return sorted(
            (h.house_id, h.category.code, h.landlord_unit_id, h.filing_number, h.pledge_date, h.capacity_limit,
             tuple(sorted(h.rooms.values_list("number", flat=True))))
            for h in RentalHouse.objects.select_related("category")
        )  # fmt: skip

    before = snapshot()
    for language in ("zh-hans", "en"):
        r = Api(people.staff_a, language=language).get("/houses.xlsx")
        body = b"".join(r.streaming_content) if r.streaming else r.content
        RentalRoom.objects.all().delete()
        RentalHouse.objects.all().delete()
        job = run(people.staff_a, "houses", body, name="export.xlsx")
        assert (job.status, job.inserted, job.error_rows) == ("done", 2, 0), job.file_error
        assert snapshot() == before


def test_job_runner_is_the_kernels(world, people):
    """The rental jobs run on the kernel's runner: a crash mid-way resumes without doubling a row."""
    rows = [list_row(world.a1, room) for room in ("0201", "0202", "0301", "0302")]
    data = xlsx(rows, LIST_HEADER)
    job = services.create_import_job(actor=people.staff_a, stream=io.BytesIO(data), file_name="l.xlsx",
                                     size=len(data), kind="houses", enqueue=False)  # fmt: skip
    from django.test import override_settings

    with override_settings(GRIDGOV_REGISTRY_BATCH_ROWS=2):
        runner.crash_after_batches = 1
        try:
            with pytest.raises(runner.SimulatedCrash):
                jobs.run(job.pk)
        finally:
            runner.crash_after_batches = None
        assert RentalHouse.objects.count() == 2
        job = jobs.run(job.pk, force=True)
    assert job.status == "done" and job.inserted == 4 and RentalHouse.objects.count() == 4
