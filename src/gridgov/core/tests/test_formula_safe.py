"""Formula injection: every spreadsheet GridGov writes (exports, the import error workbook, the 多网合一
overlay, `gridgov cases cluster`) keeps a cell that starts like a formula as text."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from gridgov.core.tabular.export import csv_stream, xlsx_file
from gridgov.core.tabular.workbook import write_error_workbook
from gridgov.territory import multinet

PAYLOADS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://x","y")']


def _cr(value):
    """A carriage return as written: XML reads it back as a line feed or as Excel's escape _x000D_."""
    return value.replace("\n", "\r").replace("_x000D_", "\r") if isinstance(value, str) else value


def _text_cells(ws, values):
    """The cells of `ws` holding one of `values`: each must be a text cell, never a formula (XML reads a
    carriage return back as a line feed)."""
    found = {}
    for row in ws.iter_rows():
        for cell in row:
            value = _cr(cell.value)
            if value in values:
                assert cell.data_type == "s", (cell.coordinate, cell.value, cell.data_type)
                assert cell.quotePrefix, (cell.coordinate, cell.value)
                found[value] = cell
    return found


def test_the_overlay_workbook_writes_names_from_the_imported_file_as_text():
    grids = [
        {"grid_code": p, "grid_name": p, "main_department_code": p, "main_share": 0.5, "covered": 1.0,
         "departments": 1, "split": False, "gap": False}
        for p in PAYLOADS
    ]  # fmt: skip
    pairs = [
        {"grid_code": "G1", "department_code": p, "department_name": p, "area_m2": 12.5,
         "share_of_grid": 0.5, "share_of_department": 0.25, "sliver": False}
        for p in PAYLOADS
    ]  # fmt: skip
    issues = [{"grid_code": p, "kind": "gap", "detail": p} for p in PAYLOADS]
    data = multinet.overlay_workbook({"grids": grids, "pairs": pairs, "issues": issues})
    book = openpyxl.load_workbook(io.BytesIO(data))
    for ws in book.worksheets:
        assert set(_text_cells(ws, PAYLOADS)) == set(PAYLOADS), ws.title
    assert book.worksheets[1].cell(2, 4).value == 12.5  # numbers stay numbers


def test_the_error_workbook_copies_bad_rows_as_text(tmp_path):
    path = tmp_path / "bad.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([["名称", "备注"], *[[p, p] for p in PAYLOADS]])
    errors = {n: [("name", "坏")] for n in range(2, 2 + len(PAYLOADS))}
    out = io.BytesIO()
    write_error_workbook(path, "bad.csv", lambda header: {"name": 0, "note": 1}, errors, out)
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    cells = _text_cells(ws, [p for p in PAYLOADS if p[:1] not in "\t\r"])
    assert len(cells) >= 4  # the CSV reader may trim a leading tab or return; the rest stays text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_exports_neutralise_every_formula_start(payload):
    rows = [["a", payload]]
    body = b"".join(csv_stream(["h1", "h2"], iter(rows))).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(body)))[1] == ["a", "'" + payload]
    with xlsx_file(["h1", "h2"], iter(rows), sheet="s") as handle:
        ws = openpyxl.load_workbook(handle).active
    cell = ws.cell(2, 2)
    assert (_cr(cell.value), cell.data_type, cell.quotePrefix) == (payload, "s", True)


def test_cases_cluster_writes_report_text_safely(tmp_path):
    from gridgov.cases.tests.test_cases_cli import run

    src = tmp_path / "in.csv"
    with open(src, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(
            [["编号", "诉求内容"], ["A1", '=HYPERLINK("http://x","井盖缺失")'], ["@B", "-2+3 路灯不亮"]]
        )
    out = tmp_path / "out.csv"
    assert run(["cases", "cluster", "--csv", str(src), "--text-col", "诉求内容", "--out", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[1][1] == '\'=HYPERLINK("http://x","井盖缺失")'
    assert rows[2][:2] == ["'@B", "'-2+3 路灯不亮"]
