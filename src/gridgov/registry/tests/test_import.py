"""Imports of residents, houses and units: good files in every encoding and format, bad files with a
clear report, the two modes, the error workbook, resuming a crashed import."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.db import connection
from django.utils import translation

from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular import workbook
from gridgov.core.tabular.validators import make_credit_code
from gridgov.registry import jobs
from gridgov.registry.models import Household, ImportJob, ImportRowError, ImportStatus, Resident, Unit
from gridgov.registry.tests.conftest import (
    HEADER,
    Api,
    csv_bytes,
    id_for,
    resident_rows,
    run_import,
    xlsx_bytes,
)
from gridgov.territory.models import House


def _errors(job) -> list[tuple[int, str, str]]:
    """The row errors of a job, rendered in English (whatever language an earlier test left active)."""
    with translation.override("en"):
        return [
            (e.row, e.column, jobs.render(e.message, e.params))
            for e in ImportRowError.objects.filter(job=job)
        ]


def _file_error(job) -> str:
    with translation.override("en"):
        return jobs.render(job.file_error["message"], job.file_error["params"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_imports_every_row(people, encoding):
    job = run_import(people.staff_a, csv_bytes(resident_rows(30), encoding=encoding))
    assert job.status == "done", job.file_error
    assert (job.inserted, job.error_rows, job.total) == (30, 0, 30)
    assert job.encoding == ("gb18030" if encoding.startswith("gb") else encoding)
    names = set(Resident.objects.values_list("name", flat=True))
    assert "居民0" in names and "居民29" in names
    # Households: three people each, the first the head.
    assert Household.objects.count() == 10
    assert all(h.head.relation == "head" for h in Household.objects.select_related("head"))


def test_xlsx_imports_and_ids_round_trip_through_the_vault(people):
    job = run_import(people.staff_a, xlsx_bytes(resident_rows(12)), "r.xlsx")
    assert job.status == "done" and job.inserted == 12 and job.file_format == "xlsx"
    from gridgov.registry import vault

    r = Resident.objects.get(name="居民5")
    assert vault.decrypt(r.id_enc, r.pii_key, "id_number") == id_for(5, "M")
    assert r.birth_date.isoformat() == f"{id_for(5)[6:10]}-{id_for(5)[10:12]}-{id_for(5)[12:14]}"
    assert r.gender == "M" and r.residence_type == "tenant" and r.house.room == "0102"


@pytest.mark.parametrize(
    "header, fragment",
    [
        (["名字", *HEADER[1:]], "Required columns are missing: 姓名"),
        ([*HEADER, "备注栏"], "Unknown columns: 备注栏"),
        ([*HEADER[:-1], "姓名"], "A column appears twice"),
        ([h for h in HEADER if h != "楼栋编码"], "building code or the address"),
    ],
)
def test_wrong_headers_are_reported_and_change_nothing(people, header, fragment):
    rows = [r[: len(header)] for r in resident_rows(5)]
    job = run_import(people.staff_a, csv_bytes(rows, header=header), mode="all_or_nothing")
    assert job.status == "rejected"
    assert fragment in _file_error(job)
    assert Resident.objects.count() == 0


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "The file is empty"),
        ("姓名,公民身份号码,人员类型,楼栋编码\n".encode(), "no data rows"),
        (b"\xff\xfe\x00\x01\x80\x81garbage\xff", "neither UTF-8 nor GBK"),
    ],
)
def test_empty_or_unreadable_files(people, data, fragment):
    job = run_import(people.staff_a, data)
    assert job.status == "rejected"
    assert fragment in _file_error(job)
    assert Resident.objects.count() == 0


def _bad_rows(n: int = 200) -> tuple[list[list[str]], dict[int, str]]:
    """n rows, 1 % of them bad in different ways; returns the rows and {sheet row: column} of the faults."""
    rows = resident_rows(n)
    bad = {}
    rows[10][2] = rows[10][2][:-1] + ("0" if rows[10][2][-1] != "0" else "1")  # wrong check digit
    bad[12] = "id_number"
    rows[50][3] = "12345"  # phone
    bad[52] = "phone"
    last = n - 10
    rows[last][2] = rows[3][2]  # duplicate of row 5 (and the same gender)
    rows[last][1] = rows[3][1]
    bad[last + 2] = "id_number"
    return rows, bad


def test_one_percent_bad_rows_valid_rows_mode(people):
    rows, bad = _bad_rows()
    with translation.override("en"):  # the error workbook is written in the language of the run
        job = run_import(people.staff_a, csv_bytes(rows), mode="valid_rows")
    assert job.status == "done"
    assert job.inserted == 197 and job.error_rows == 3
    found = {(row, col) for row, col, _ in _errors(job)}
    assert found == set(bad.items())
    messages = dict(((row, col), msg) for row, col, msg in _errors(job))
    assert "check digit" in messages[(12, "id_number")]
    assert "row 5" in messages[(192, "id_number")]
    # The error workbook: the bad rows only, the bad cells marked, reasons in comments and a column.
    wb = openpyxl.load_workbook(io.BytesIO(jobs.error_workbook_bytes(job)))
    ws = wb.active
    assert [c.value for c in ws[1]][:3] == ["Row", "姓名", "性别"]
    assert [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)] == [12, 52, 192]
    id_cell = ws.cell(2, 1 + 1 + HEADER.index("公民身份号码"))
    assert id_cell.fill.fgColor.rgb.endswith("FFC7CE") and "check digit" in id_cell.comment.text
    assert "12345" == ws.cell(3, 2 + HEADER.index("联系电话")).value
    # The uploader's own rows as uploaded (nothing masked), so that they can be corrected and uploaded again.
    assert ws.cell(3, 2 + HEADER.index("公民身份号码")).value == rows[50][2]


def test_one_percent_bad_rows_all_or_nothing_changes_nothing(people):
    rows, _ = _bad_rows()
    job = run_import(people.staff_a, csv_bytes(rows), mode="all_or_nothing")
    assert job.status == "rejected" and job.inserted == 0 and job.error_rows == 3
    assert Resident.objects.count() == 0 and Household.objects.count() == 0
    assert job.error_file_path
    good = run_import(people.staff_a, csv_bytes(resident_rows(200)), mode="all_or_nothing")
    assert good.status == "done" and good.inserted == 200 and Resident.objects.count() == 200


def test_formulas_are_refused_in_csv_and_xlsx(people):
    rows = resident_rows(4)
    rows[1][0] = '=HYPERLINK("http://x","点我")'
    job = run_import(people.staff_a, csv_bytes(rows), mode="all_or_nothing")
    assert job.status == "rejected" and (3, "name") in {(r, c) for r, c, _ in _errors(job)}
    data = xlsx_bytes(resident_rows(4), formula=(3, 0, '="张"&"三"'))
    job = run_import(people.staff_a, data, "f.xlsx", mode="all_or_nothing")
    assert job.status == "rejected"
    assert [(r, c) for r, c, _ in _errors(job)] == [(4, "name")]
    assert "formula" in _errors(job)[0][2]
    assert Resident.objects.count() == 0


def test_merged_cells_are_refused(people):
    data = xlsx_bytes(resident_rows(4), merge=(1, 4, 3, 4, "租住"))
    job = run_import(people.staff_a, data, "m.xlsx", mode="all_or_nothing")
    assert job.status == "rejected"
    assert "merged cells (E2:E4)" in _file_error(job)
    assert Resident.objects.count() == 0


def test_a_one_megabyte_cell_is_reported_not_crashed(people):
    rows = resident_rows(3)
    rows[1][0] = "长" * (1 << 20)
    job = run_import(people.staff_a, csv_bytes(rows), mode="all_or_nothing")
    assert job.status == "rejected"
    assert _errors(job) == [(3, "name", "Too long: 1048576 characters, at most 50")]
    wb = openpyxl.load_workbook(io.BytesIO(jobs.error_workbook_bytes(job)))
    assert len(wb.active.cell(2, 2).value) <= workbook.SHOWN_CELL + 1
    assert Resident.objects.count() == 0


def test_duplicates_against_the_database_and_scope(people, world):
    run_import(people.staff_a, csv_bytes(resident_rows(6)))
    again = run_import(people.staff_a, csv_bytes(resident_rows(3, start=4)))
    assert again.inserted == 1 and {(r, c) for r, c, _ in _errors(again)} == {
        (2, "id_number"),
        (3, "id_number"),
    }
    # A building of community B is outside community A's staff.
    other = run_import(people.staff_a, csv_bytes(resident_rows(2, building=world.b1.code, start=50)))
    assert other.inserted == 0 and {m for _, _, m in _errors(other)} == {
        "The building lies outside your area"
    }


def test_address_is_matched_to_building_and_house(people, world):
    header = ["姓名", "公民身份号码", "人员类型", "地址"]
    rows = [
        ["甲", id_for(1), "户籍", f"{world.a1.address}1单元0201室"],
        ["乙", id_for(2, "F"), "流动", f"{world.a1.address}9901"],
        ["丙", id_for(3), "户籍", "不存在的楼1栋0101"],
    ]
    job = run_import(people.staff_a, csv_bytes(rows, header=header))
    assert job.inserted == 1
    assert Resident.objects.get(name="甲").house.room == "0201"
    assert {(r, c) for r, c, _ in _errors(job)} == {(3, "room"), (4, "address")}


def test_gender_birth_date_and_dates_must_agree_with_the_id_number(people):
    header = [
        "姓名",
        "性别",
        "公民身份号码",
        "出生日期",
        "人员类型",
        "楼栋编码",
        "单元",
        "房号",
        "迁入日期",
        "迁出日期",
    ]
    number = id_for(7, "M")
    rows = [
        ["甲", "女", number, "", "户籍", "44030900200100101", "1", "0101", "", ""],
        ["乙", "", id_for(8, "M"), "1999-01-01", "户籍", "44030900200100101", "1", "0101", "", ""],
        ["丙", "", id_for(9, "M"), "", "户籍", "44030900200100101", "1", "0101", "2020-01-01", "2019-01-01"],
        ["丁", "", id_for(10, "M"), "", "外星", "44030900200100101", "1", "0101", "2999-01-01", ""],
    ]
    job = run_import(people.staff_a, csv_bytes(rows, header=header))
    assert {(r, c) for r, c, _ in _errors(job)} == {
        (2, "gender"), (3, "birth_date"), (4, "moved_out"), (5, "residence_type"), (5, "moved_in"),
    }  # fmt: skip


def test_crashed_import_resumes_without_duplicates(people, small_batches):
    data = csv_bytes(resident_rows(230))
    runner.crash_after_batches = 2  # dies inside the third batch's transaction, like a killed worker
    with pytest.raises(runner.SimulatedCrash):
        run_import(people.staff_a, data)
    job = ImportJob.objects.get()
    assert job.status == "running" and job.cursor == 100 and Resident.objects.count() == 100
    runner.crash_after_batches = None
    # Not stale yet: resuming is refused; once the heartbeat is old, it carries on.
    api = Api(people.staff_a)
    assert api.post(f"/imports/{job.pk}/resume").status_code == 409
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at.replace(year=2000))
    r = api.post(f"/imports/{job.pk}/resume")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "done" and body["inserted"] == 230 and body["processed"] == 230
    assert (
        Resident.objects.count() == 230
        and len(set(Resident.objects.values_list("id_hash", flat=True))) == 230
    )
    assert sorted(Resident.objects.values_list("source_row", flat=True)) == list(range(2, 232))
    assert Household.objects.count() == 77


def test_crash_in_all_or_nothing_insert_phase_resumes(people, small_batches):
    data = csv_bytes(resident_rows(120))
    runner.crash_after_batches = 1
    with pytest.raises(runner.SimulatedCrash):
        run_import(people.staff_a, data, mode="all_or_nothing")
    job = ImportJob.objects.get()
    assert job.phase == "validate" and Resident.objects.count() == 0
    runner.crash_after_batches = 3  # the rest of the validation pass (2 batches), then one insert batch
    with pytest.raises(runner.SimulatedCrash):
        jobs.run(job.pk, force=True)
    job.refresh_from_db()
    assert job.phase == "insert" and Resident.objects.count() == 50
    runner.crash_after_batches = None
    job = jobs.run(job.pk, force=True)
    assert job.status == "done" and Resident.objects.count() == 120 and job.inserted == 120


def test_job_status_moves_only_along_the_table(people):
    job = run_import(people.staff_a, csv_bytes(resident_rows(3)))
    assert job.status == "done" and job.attempts == 1
    # Done is final: a forced run neither claims it nor imports the rows again.
    again = jobs.run(job.pk, force=True)
    assert (again.status, again.attempts, Resident.objects.count()) == ("done", 1, 3)
    assert not runner.move_status(ImportJob, job.pk, "running")
    assert not runner.move_status(ImportJob, job.pk, "failed")
    assert ImportJob.objects.get(pk=job.pk).status == "done"
    # A failed job may be taken up again; every status of the model is in the one table.
    ImportJob.objects.filter(pk=job.pk).update(status="failed")
    assert runner.move_status(ImportJob, job.pk, "running")
    assert set(runner.TRANSITIONS) == {s.value for s in ImportStatus}


def test_houses_and_units_import(people, world):
    header = ["楼栋编码", "单元", "房号", "用途"]
    rows = [[world.a1.code, "2", "0101", "出租"], [world.a1.code, "2", "0102", "商用"],
            [world.a1.code, "1", "0101", "自住"], [world.a1.code, "2", "0101", "自住"]]  # fmt: skip
    job = run_import(people.staff_a, csv_bytes(rows, header=header), kind="houses")
    assert job.inserted == 2 and {(r, c) for r, c, _ in _errors(job)} == {(4, "room"), (5, "room")}
    assert House.objects.filter(building=world.a1, unit="2").count() == 2

    good = make_credit_code("91", "440300", "MA5DC6QX9")
    header = [
        "单位名称",
        "统一社会信用代码",
        "单位类型",
        "楼栋编码",
        "房号",
        "联系人",
        "联系电话",
        "从业人数",
    ]
    rows = [
        ["深圳某某科技有限公司", good, "企业", world.a1.code, "0201", "李四", "13900139000", "12"],
        ["错码商店", good[:-1] + ("0" if good[-1] != "0" else "1"), "商铺", world.a1.code, "", "", "", "3"],
        ["重复公司", good.lower(), "企业", world.a1.code, "", "", "", "x"],
    ]
    job = run_import(people.staff_a, csv_bytes(rows, header=header), kind="units")
    assert job.inserted == 1
    assert {(r, c) for r, c, _ in _errors(job)} == {(3, "credit_code"), (4, "credit_code"), (4, "employees")}
    unit = Unit.objects.get()
    assert unit.house.room == "0201" and unit.phone_hash and unit.employees == 12


def test_import_api_upload_progress_errors_and_templates(people, django_capture_on_commit_callbacks):
    api = Api(people.staff_a)
    rows, _ = _bad_rows(100)
    with django_capture_on_commit_callbacks(execute=True):  # the upload queues the job after its commit
        r = api.upload(csv_bytes(rows), "居民.csv", mode="valid_rows", kind="residents")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "queued"
    body = api.get(f"/imports/{body['id']}").json()
    assert body["status"] == "done" and body["total"] == 100 and body["processed"] == 100
    assert body["percent"] == 100.0 and body["inserted"] == 97 and body["errors"] == 3
    assert body["error_workbook_url"].endswith(f"/imports/{body['id']}/error-workbook")
    assert api.get(f"/imports/{body['id']}").json()["inserted"] == 97
    errors = api.get(f"/imports/{body['id']}/errors").json()
    assert errors["count"] == 3 and errors["items"][0]["row"] == 12
    zh = Api(people.staff_a, language="zh-hans").get(f"/imports/{body['id']}/errors").json()
    assert zh["items"][0]["message"]
    book = api.client.get(body["error_workbook_url"])
    assert book.status_code == 200 and book["Content-Type"].startswith("application/vnd.openxmlformats")
    # Another user never sees the job.
    assert Api(people.staff_b).get(f"/imports/{body['id']}").status_code == 404
    # Templates.
    t = api.get("/imports/template", {"kind": "residents", "format": "xlsx"})
    wb = openpyxl.load_workbook(io.BytesIO(t.content))
    assert wb.worksheets[0].cell(1, 1).value == "姓名*"
    t = api.get("/imports/template", {"kind": "units", "format": "csv"})
    assert t.content.decode("utf-8-sig").startswith("单位名称,统一社会信用代码")
    # Only importers may upload.
    assert Api(people.head_a1).upload(csv_bytes(rows), "x.csv").status_code == 403


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY and the writer thread are PostgreSQL's bulk path"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_copy_pipeline_crashes_and_resumes_exactly(people, small_batches):
    """Outside a transaction on PostgreSQL the import writes with COPY from a writer thread while the
    next batch is validated; a crash there loses only the batch in flight."""
    rows = resident_rows(260)
    rows[200][2] = rows[7][2]  # one duplicate, reported once
    rows[200][1] = rows[7][1]
    runner.crash_after_batches = 2
    with pytest.raises(runner.SimulatedCrash):
        run_import(people.staff_a, csv_bytes(rows))
    job = ImportJob.objects.get()
    assert job.status == "running" and job.cursor == 100 and Resident.objects.count() == 100
    runner.crash_after_batches = None
    job = jobs.run(job.pk, force=True)
    assert job.status == "done" and job.inserted == 259 and job.error_rows == 1
    assert Resident.objects.count() == 259 and Household.objects.count() == 87
    assert sorted(Resident.objects.values_list("source_row", flat=True)) == [
        n for n in range(2, 262) if n != 202
    ]
    # The sequences moved past the ids the import drew: ordinary inserts still work.
    assert Api(people.staff_a).post("/residents", {
        "name": "后来者", "id_number": id_for(500), "residence_type": "tenant",
        "building_code": "44030900200100101", "room": "0301",
    }).status_code == 201  # fmt: skip
