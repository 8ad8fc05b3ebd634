"""The registry tests: the small world of gridgov.testing (communities A and B, their grids, buildings
and houses), one user per role, and helpers for import files."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from gridgov import testing
from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular.validators import make_id_number
from gridgov.registry import jobs, services
from gridgov.testing import build_world, cast, immediate_tasks

HEADER = [
    "姓名",
    "性别",
    "公民身份号码",
    "联系电话",
    "人员类型",
    "楼栋编码",
    "单元",
    "房号",
    "户号",
    "与户主关系",
    "迁入日期",
]


@pytest.fixture(autouse=True)
def immediate_queue(settings, tmp_path):
    """Huey runs tasks at once; imports keep their files in a temporary data directory."""
    settings.DATA_DIR = tmp_path
    saved = runner.crash_after_batches
    with immediate_tasks():
        yield
    runner.crash_after_batches = saved


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def people(world):
    return cast(
        world, "admin", "security", "auditor", "leader", "sub_staff", "staff_a", "staff_b", "worker_a1",
        "head_a1", "head_b1", "party", "resident",
    )  # fmt: skip


def id_for(i: int, gender: str = "M", area: str = "110105") -> str:
    return make_id_number(area, dt.date(1960, 1, 1) + dt.timedelta(days=37 * i), i, gender)


def resident_rows(n: int, *, building: str = "44030900200100101", start: int = 0) -> list[list[str]]:
    rooms = [f"{f:02d}{d:02d}" for f in (1, 2, 3) for d in (1, 2)]
    rows = []
    for i in range(start, start + n):
        gender = "M" if i % 2 else "F"
        rows.append(
            [
                f"居民{i}", "男" if gender == "M" else "女", id_for(i, gender), f"139{i:08d}", "租住", building, "1",
                rooms[(i // 3) % len(rooms)], f"H{i // 3}", "户主" if i % 3 == 0 else "子女", "2021-03-04",
            ]
        )  # fmt: skip
    return rows


def csv_bytes(rows: list[list], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], header: list[str] = HEADER, *, merge=None, formula=None) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, header)
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row):
            ws.write_string(r, c, v)
    if formula:
        ws.write_formula(*formula)
    if merge:
        ws.merge_range(*merge)
    wb.close()
    return buffer.getvalue()


def run_import(actor, data: bytes, name: str = "residents.csv", **kwargs):
    job = services.create_import_job(
        actor=actor, stream=io.BytesIO(data), file_name=name, size=len(data), enqueue=False, **kwargs
    )
    return jobs.run(job.pk)


class Api(testing.Api):
    """A JSON client for /api/v1/registry logged in as one user."""

    prefix = "/api/v1/registry"

    def upload(self, data: bytes, name: str, **form):  # type: ignore[override]
        return super().upload("/imports", data, name, **form)


@pytest.fixture
def small_batches(settings):
    settings.GRIDGOV_REGISTRY_BATCH_ROWS = 50


@pytest.fixture
def pii_log_flushable():
    """For transactional tests that write the personal-information access log: its triggers refuse the
    DELETE with which the test database is emptied on SQLite (PostgreSQL truncates, which they allow), so
    the rows are removed with the triggers dropped for a moment, then the triggers come back."""
    yield
    from importlib import import_module

    from django.db import connection

    if connection.vendor != "sqlite":
        return
    migration = import_module("gridgov.registry.migrations.0003_pii_access_log_append_only")
    with connection.cursor() as cursor:
        for sql in migration.SQLITE_DOWN:
            cursor.execute(sql)
        cursor.execute("DELETE FROM registry_piiaccesslog")
        for sql in migration.SQLITE_UP:
            cursor.execute(sql)
