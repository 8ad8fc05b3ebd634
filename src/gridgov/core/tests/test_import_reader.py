"""The reader of uploads: limits checked before allocating, the child process, the job status table
on the workflow engine (and in the docs)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
import xlwt

from gridgov.core.tabular import jobs, sources
from gridgov.core.tabular.sources import FileFault, Limits, ReaderCrashed, open_sheet, open_sheet_isolated


def _workbook(path: Path, far_cell: tuple[int, int] | None = None) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["日期", "类型", "名称"])
    ws.write_row(1, 0, ["2026-10-10", "上班", "调休"])
    ws.write_formula(2, 2, "=1+1", None, 2)
    if far_cell:
        ws.write_string(*far_cell, "x")
    wb.close()
    return path


def test_the_child_reads_what_the_process_reads(tmp_path):
    path = _workbook(tmp_path / "w.xlsx")
    here, there = open_sheet(path, "w.xlsx"), open_sheet_isolated(path, "w.xlsx")
    assert (there.format, there.header, there.total, there.formulas) == (
        here.format, here.header, here.total, here.formulas,
    )  # fmt: skip
    assert list(there.rows) == list(here.rows)
    csv_path = tmp_path / "w.csv"
    csv_path.write_bytes("日期,类型\n2026-10-10,上班\n".encode("gbk"))
    sheet = open_sheet_isolated(csv_path, "w.csv")
    assert (sheet.encoding, list(sheet.rows)) == ("gb18030", [(2, ["2026-10-10", "上班"])])


def test_extents_are_refused_before_allocating_in_and_out_of_the_child(tmp_path):
    path = _workbook(tmp_path / "far.xlsx", far_cell=(200_000, 100))
    for read in (open_sheet, open_sheet_isolated):
        with pytest.raises(FileFault) as caught:
            read(path, "far.xlsx", limit=Limits(max_cells=1_000_000))
        assert caught.value.params == {
            "rows": 200_001,
            "columns": 101,
            "cells": 20_200_101,
            "limit": 1_000_000,
        }
    small = _workbook(tmp_path / "near.xlsx", far_cell=(99, 9))  # 100 × 10 cells: read
    assert open_sheet(small, "near.xlsx", limit=Limits(max_cells=1_000)).total == 99


def _xls(path: Path, far_cell: tuple[int, int] | None = None, *, runs: bool = False) -> Path:
    wb = xlwt.Workbook()
    ws = wb.add_sheet("人口")
    for col, text in enumerate(["姓名", "楼栋", "房号"]):
        ws.write(0, col, text)
    for col, value in enumerate(["张三", 3, 101]):
        ws.write(1, col, value)  # two numbers side by side: xlwt writes them as one MULRK run
    if far_cell:
        ws.write(*far_cell, "x")
    if runs:
        ws.write(2, 0, 1)
        ws.write(2, 255, 2)
        for col in range(1, 255):
            ws.write(2, col, 0)  # one MULRK record from column A to column IV
    wb.save(str(path))
    return path


def test_xls_extents_are_refused_before_allocating(tmp_path):
    """A 6 KB .xls with A1 and IV65536 would have python-calamine allocate 65,536 × 256 cells: the
    record walk refuses it first, in the process and in the child; a small .xls reads as before."""
    far = _xls(tmp_path / "far.xls", far_cell=(65_535, 255))
    assert far.stat().st_size < 10_000
    for read in (open_sheet, open_sheet_isolated):
        with pytest.raises(FileFault) as caught:
            read(far, "far.xls", limit=Limits(max_cells=1_000_000))
        assert caught.value.params == {
            "rows": 65_536,
            "columns": 256,
            "cells": 16_777_216,
            "limit": 1_000_000,
        }
    wide = _xls(tmp_path / "wide.xls", runs=True)  # the run's last column counts
    with pytest.raises(FileFault) as caught:
        open_sheet(wide, "wide.xls", limit=Limits(max_cells=500))
    assert caught.value.params["columns"] == 256
    near = _xls(tmp_path / "near.xls", far_cell=(99, 9))
    sheet = open_sheet(near, "near.xls", limit=Limits(max_cells=1_000))
    assert (sheet.format, sheet.header[:4], sheet.total) == ("xls", ["姓名", "楼栋", "房号", ""], 99)
    assert next(iter(sheet.rows)) == (2, ["张三", 3.0, 101.0, "", "", "", "", "", "", ""])


def test_a_file_named_xls_that_is_no_compound_file_is_unreadable(tmp_path):
    fake = tmp_path / "fake.xls"
    fake.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(FileFault) as caught:
        open_sheet(fake, "fake.xls")
    assert caught.value.message == sources.E_UNREADABLE


def test_zip_members_are_checked_before_unpacking(tmp_path):
    source = zipfile.ZipFile(_workbook(tmp_path / "w.xlsx"))
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for name in source.namelist():
            z.writestr(name, source.read(name))
        z.writestr("xl/media/pad.bin", b"\0" * (20 * 2**20))
    with pytest.raises(FileFault) as caught:
        open_sheet(bomb, "bomb.xlsx")
    assert caught.value.message == sources.E_ZIP_BOMB and caught.value.params["name"] == "xl/media/pad.bin"
    with pytest.raises(FileFault) as caught:
        open_sheet(bomb, "bomb.xlsx", limit=Limits(max_unzipped_mb=10))
    assert caught.value.message == sources.E_ZIP_TOO_LARGE
    with pytest.raises(FileFault) as caught:
        open_sheet(bomb, "bomb.xlsx", limit=Limits(max_members=3))
    assert caught.value.message == sources.E_ZIP_MEMBERS


def test_a_child_out_of_memory_or_time_is_a_crash_not_the_callers_death(tmp_path):
    path = _workbook(tmp_path / "far.xlsx", far_cell=(1_048_575, 16_383))
    unchecked = dataclasses.replace(Limits(), max_cells=10**12, memory_mb=512)
    with pytest.raises(ReaderCrashed):
        open_sheet_isolated(path, "far.xlsx", limit=unchecked)
    with pytest.raises(ReaderCrashed) as caught:
        open_sheet_isolated(path, "far.xlsx", limit=dataclasses.replace(Limits(), wall_seconds=0))
    assert "no answer" in caught.value.reason


def test_the_child_gets_no_secrets_of_the_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://secret@db/gridgov")
    monkeypatch.setenv("GRIDGOV_PII_KEYS", "k1:secret")
    env = sources._child_env()
    assert "DATABASE_URL" not in env and "GRIDGOV_PII_KEYS" not in env and "SECRET_KEY" not in env


def test_the_docs_carry_the_job_table():
    docs = Path(__file__).resolve().parents[4] / "docs" / "kernel" / "tabular.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("<!-- job-table -->\n", 1)[1].split("\n<!-- /job-table -->", 1)[0]
    assert block == jobs.markdown_table()


def test_the_status_table_is_the_workflow_engines():
    assert {s: set(t) for s, t in jobs.TRANSITIONS.items()} == {
        "queued": {"running"}, "running": {"running", "done", "rejected", "failed"}, "failed": {"running"},
        "done": set(), "rejected": set(),
    }  # fmt: skip
    assert all(not rule.membership for t in jobs.JOB_TRANSITIONS for rule in t.rules)  # no user moves a job


def test_memory_file_is_not_on_disk():
    with jobs.memory_file(lambda out: out.write(b"440301199001011234")) as path:
        assert path.read_bytes() == b"440301199001011234"
        assert str(Path(path).resolve()).startswith("/memfd:")  # anonymous memory, no directory


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_the_child_dies_with_its_caller(tmp_path):
    """A worker killed while its reader runs leaves no reader behind (its socket closes; a reader busy
    parsing gets SIGKILL through PR_SET_PDEATHSIG)."""
    path = _workbook(tmp_path / "w.xlsx")
    script = (
        "import time; from pathlib import Path; from gridgov.core.tabular import sources as s;"
        f"sheet = s.open_sheet_isolated(Path({str(path)!r}), 'w.xlsx'); print('ready', flush=True); time.sleep(60)"
    )
    caller = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout is not None and caller.stdout.readline().strip() == "ready"
        readers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _stat(int(p))[1] == caller.pid]
        assert len(readers) == 1 and _stat(readers[0])[0] in "RS"  # the reader, waiting to send rows
    finally:
        caller.kill()
        caller.wait()
    deadline = time.time() + 10
    while time.time() < deadline and _stat(readers[0])[0] not in ("gone", "Z"):
        time.sleep(0.1)
    assert _stat(readers[0])[0] in ("gone", "Z")


def _stat(pid: int) -> tuple[str, int | None]:
    """(state, parent pid) of a process, ("gone", None) when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1])
    except (OSError, IndexError, ValueError):
        return "gone", None
