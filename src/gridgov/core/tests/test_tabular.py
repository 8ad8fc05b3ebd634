"""The tabular kernel with a spec that is not the registry's: workday overrides (调休 and holidays) read
from a GBK CSV and from an .xlsx, validated per row, bad rows written to the error workbook, good rows
bulk-written, and exported again as .csv and .xlsx with a masked column."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
import xlsxwriter
from django.utils import translation

from gridgov.core import worktime
from gridgov.core.models import Revision, WorkdayOverride
from gridgov.core.tabular.bulk import db_now, existing, write_rows
from gridgov.core.tabular.export import Counter, ExportColumn, ExportSpec, csv_stream, xlsx_file
from gridgov.core.tabular.sources import FileFault, open_sheet
from gridgov.core.tabular.spec import (
    E_DUP_DB,
    Column,
    ImportSpec,
    check_text,
    choice,
    dates,
    import_sheet,
    render,
)
from gridgov.core.tabular.workbook import template, write_error_workbook

KINDS = {"上班": "1", "放假": "0"}


class WorkdaySpec(ImportSpec):
    columns = (
        Column("day", "日期", ("day",), required=True, max_len=20, example="2026-10-10"),
        Column("kind", "类型", ("kind",), required=True, max_len=8, example="上班", choices=("上班", "放假")),
        Column("name", "名称", ("name",), max_len=64, text=True, example="国庆节调休"),
    )
    required = ("day", "kind")

    def validate(self, batch):
        check_text(batch, self.columns)
        days = dates(batch, "day", None)
        kinds = choice(batch, "kind", KINDS, "上班、放假")
        rows = [i for i in range(len(batch.numbers)) if not batch.blank[i] and batch.ok(i, "day") and days[i]]
        rows = [i for i in rows if self.dedup(batch, i, "day", days[i].isoformat())]
        taken = existing(WorkdayOverride, "day", [days[i] for i in rows])
        for i in rows:
            if days[i] in taken:
                batch.fail(i, "day", E_DUP_DB)
        now = db_now()
        return [
            (days[i].isoformat(), kinds[i] == "1", batch.text["name"][i] if "name" in batch.text else "", now)
            for i in rows
            if not batch.bad[i]
        ]

    def insert(self, records):
        write_rows(WorkdayOverride, ["day", "is_workday", "name", "created_at"], records)
        Revision.bump(worktime.WORKDAY_REVISION)  # what the model's signal does for a single save
        worktime.invalidate_cache()
        return len(records)


EXPORT = ExportSpec(
    "workdays",
    (
        ExportColumn("日期", lambda o: o.day.isoformat()),
        ExportColumn("类型", lambda o: "上班" if o.is_workday else "放假"),
        ExportColumn("名称", lambda o: o.name, mask=lambda v: v[:1] + "*" * (len(v) - 1), name="name"),
    ),
)

ROWS = [
    ["2026-10-10", "上班", "国庆节调休"],  # good
    ["2026/10/1", "放假", "国庆节"],  # good, another date format
    ["2026-13-01", "放假", "坏日期"],  # not a date
    ["2026-10-02", "休息", "国庆节"],  # not a choice
    ["2026-10-10", "上班", "重复"],  # the same day as row 2
    ["2026-05-01", "放假", "劳动节"],  # already in the database
    ["2026-10-03", "放假", "=HYPERLINK(1)"],  # a formula in free text
    ["", "", ""],  # blank: skipped
]


def _errors_by_row(errors) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for row, key, message, params in errors:
        out.setdefault(row, {})[key] = render(message, params)
    return out


def _check_import(path, name, rows_read):
    revision = Revision.current(worktime.WORKDAY_REVISION)
    sheet = open_sheet(path, name)
    try:
        rows, inserted, errors = import_sheet(WorkdaySpec(), sheet, batch_rows=3)
    finally:
        sheet.close()
    assert (rows, inserted) == (rows_read, 2)
    with translation.override("en"):
        by_row = _errors_by_row(errors)
    assert by_row == {
        4: {"day": "Enter a date as YYYY-MM-DD"},
        5: {"kind": "Choose one of: 上班、放假"},
        6: {"day": "Duplicate: the same value is in row 2"},
        7: {"day": "Already registered in the system"},
        8: {"name": "The cell holds a formula; paste the values only"},
    }
    days = dict(WorkdayOverride.objects.values_list("day", "is_workday"))
    assert days == {dt.date(2026, 5, 1): False, dt.date(2026, 10, 10): True, dt.date(2026, 10, 1): False}
    assert Revision.current(worktime.WORKDAY_REVISION) > revision  # the spec tells the calendar caches
    return errors


@pytest.fixture
def labour_day(db):
    return WorkdayOverride.objects.create(day=dt.date(2026, 5, 1), is_workday=False, name="劳动节")


def test_gbk_csv_import_reports_bad_rows_and_writes_the_good_ones(labour_day, tmp_path):
    path = tmp_path / "workdays.csv"
    text = io.StringIO()
    csv.writer(text).writerows([["日期", "类型", "名称"], *ROWS])
    path.write_bytes(text.getvalue().encode("gbk"))
    sheet = open_sheet(path, "workdays.csv")
    assert (sheet.format, sheet.encoding, sheet.header) == ("csv", "gb18030", ["日期", "类型", "名称"])
    sheet.close()

    errors = _check_import(path, "workdays.csv", 8)

    # The error workbook: the bad rows as they came, bad cells red with the reason, a column of reasons,
    # and the spec's mask applied to the shown cells of a masked column.
    with translation.override("en"):
        by_row: dict[int, list[tuple[str, str]]] = {}
        for row, key, message, params in errors:
            by_row.setdefault(row, []).append((key, render(message, params)))
        out = io.BytesIO()
        write_error_workbook(
            path, "workdays.csv", WorkdaySpec.map_header, by_row, out, masks={"name": lambda t: t[:1] + "…"}
        )
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    table = [[c.value for c in r] for r in ws.iter_rows()]
    assert table[0] == ["Row", "日期", "类型", "名称", "Reasons"]
    assert [r[0] for r in table[1:]] == [4, 5, 6, 7, 8]
    assert table[1][1:4] == ["2026-13-01", "放假", "坏…"]
    # the reasons name the column in this workbook (after the "Row" column)
    assert table[1][4] == "日期(B): Enter a date as YYYY-MM-DD"
    assert table[5][4] == "名称(D): The cell holds a formula; paste the values only"
    bad = ws.cell(2, 2)
    assert bad.fill.fgColor.rgb.endswith("FFC7CE") and bad.comment.text == "Enter a date as YYYY-MM-DD"
    assert ws.cell(2, 3).comment is None  # a good cell of a bad row is not marked


def test_xlsx_import_refuses_formula_cells(labour_day, tmp_path):
    path = tmp_path / "workdays.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["日期", "类型", "名称"])
    for r, row in enumerate(ROWS, 1):
        if r != 7:
            ws.write_row(r, 0, row)
    ws.write_row(7, 0, ROWS[6][:2])
    ws.write_formula(7, 2, '=CONCATENATE("国","庆")', None, "国庆")  # cached value looks innocent
    wb.close()
    _check_import(path, "workdays.xlsx", 7)  # the sheet ends at its last filled row


def test_header_faults_name_the_columns(db, tmp_path):
    with pytest.raises(FileFault) as missing:
        WorkdaySpec.map_header(["名称"])
    assert missing.value.params["columns"] == "日期、类型"
    with pytest.raises(FileFault) as unknown:
        WorkdaySpec.map_header(["日期", "类型", "备注"])
    assert unknown.value.params["columns"] == "备注"
    assert WorkdaySpec.map_header([" 日期* ", "KIND", ""]) == {"day": 0, "kind": 1}


def test_template_offers_the_choices(db):
    wb = openpyxl.load_workbook(io.BytesIO(template(WorkdaySpec.columns, WorkdaySpec.required, "xlsx")))
    data = wb.worksheets[0]
    assert [c.value for c in data[1]] == ["日期*", "类型*", "名称"]
    lists = [dv.formula1 for dv in data.data_validations.dataValidation]
    assert lists == ['"上班,放假"']
    csv_text = template(WorkdaySpec.columns, WorkdaySpec.required, "csv").decode("utf-8-sig")
    assert csv_text.splitlines() == ["日期,类型,名称", "2026-10-10,上班,国庆节调休"]


def test_export_masks_unless_revealed_and_defuses_formulas(db):
    WorkdayOverride.objects.create(day=dt.date(2026, 10, 1), is_workday=False, name="国庆节")
    WorkdayOverride.objects.create(day=dt.date(2026, 10, 10), is_workday=True, name="=1+1")
    qs = WorkdayOverride.objects.all()

    counter = Counter()
    body = b"".join(csv_stream(EXPORT.header, EXPORT.rows(qs, counter=counter))).decode("utf-8")
    assert body.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(body.lstrip("\ufeff")))) == [
        ["日期", "类型", "名称"],
        ["2026-10-01", "放假", "国**"],
        ["2026-10-10", "上班", "'=***"],  # masked, and never a formula
    ]
    assert (counter.rows, counter.revealed) == (2, set())

    counter = Counter()
    revealed = EXPORT.rows(qs, reveal=lambda obj, name, value: obj.is_workday, counter=counter)
    with xlsx_file(EXPORT.header, revealed, sheet="workdays") as handle:
        ws = openpyxl.load_workbook(handle).active
    assert [[c.value for c in r] for r in ws.iter_rows()] == [
        ["日期", "类型", "名称"],
        ["2026-10-01", "放假", "国**"],
        ["2026-10-10", "上班", "=1+1"],  # a string cell in .xlsx, not a formula
    ]
    assert ws.cell(3, 3).data_type == "s"
    assert counter.revealed == {"name"} and counter.ids == sorted(qs.values_list("pk", flat=True))
