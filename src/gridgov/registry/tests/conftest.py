"""A small territory with buildings and houses, one user per role, and helpers for the registry tests.

    440309 district ─ 440309002 subdistrict
      440309002001 community A ─ block ─ grids A1 (440309002001001), A2 (440309002001002)
      440309002002 community B ─ block ─ grid  B1 (440309002002001)

Every grid has two buildings (codes <grid code>01, <grid code>02; address "<grid name>1栋"/"2栋"), each with
unit 1, floors 1–3, rooms 0101 0102 0201 0202 0301 0302.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from types import SimpleNamespace

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from gridgov.accounts.models import Membership, User
from gridgov.accounts.roles import Role
from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular.validators import make_id_number
from gridgov.registry import jobs, services
from gridgov.territory.models import Area, Building, House

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


def make_area(parent, level, code, name) -> Area:
    area = Area(parent=parent, level=level, code=code, name=name)
    area.save()
    return area


def make_user(username: str, role: str | None = None, *, area=None) -> User:
    user = User.objects.create(username=username, display_name=username)
    if role:
        Membership.objects.create(user=user, role=role, area=area)
    return user


@pytest.fixture(autouse=True)
def immediate_queue(settings, tmp_path):
    """Huey runs tasks at once; imports keep their files in a temporary data directory."""
    previous = HUEY.immediate
    HUEY.immediate = True
    settings.DATA_DIR = tmp_path
    saved = runner.crash_after_batches
    yield
    HUEY.immediate = previous
    runner.crash_after_batches = saved


@pytest.fixture
def world(db):
    district = make_area(None, "district", "440309", "龙华区")
    sub = make_area(district, "subdistrict", "440309002", "民治街道")
    comm_a = make_area(sub, "community", "440309002001", "北站社区")
    comm_b = make_area(sub, "community", "440309002002", "民乐社区")
    block_a = make_area(comm_a, "block", "44030900200101", "北站第1街区")
    block_b = make_area(comm_b, "block", "44030900200201", "民乐第1街区")
    grid_a1 = make_area(block_a, "grid", "440309002001001", "北站一格")
    grid_a2 = make_area(block_a, "grid", "440309002001002", "北站二格")
    grid_b1 = make_area(block_b, "grid", "440309002002001", "民乐一格")
    buildings = {}
    houses = []
    for grid in (grid_a1, grid_a2, grid_b1):
        for k in (1, 2):
            b = Building.objects.create(
                grid=grid,
                code=f"{grid.code}0{k}",
                name=f"{k}栋",
                address=f"{grid.name}{k}栋",
                lng=114.0,
                lat=22.6,
            )
            buildings[b.code] = b
            for floor in (1, 2, 3):
                for door in (1, 2):
                    houses.append(House(building=b, unit="1", floor=floor, room=f"{floor:02d}{door:02d}"))
    House.objects.bulk_create(houses)
    return SimpleNamespace(
        district=district, sub=sub, comm_a=comm_a, comm_b=comm_b, grid_a1=grid_a1, grid_a2=grid_a2,
        grid_b1=grid_b1, buildings=buildings, a1=buildings["44030900200100101"], b1=buildings["44030900200200101"],
    )  # fmt: skip


@pytest.fixture
def people(world):
    w = world
    return SimpleNamespace(
        admin=make_user("admin", Role.ADMIN),
        security=make_user("security", Role.SECURITY_ADMIN),
        auditor=make_user("auditor", Role.AUDIT_ADMIN),
        leader=make_user("leader", Role.LEADER, area=w.district),
        sub_staff=make_user("sub_staff", Role.SUBDISTRICT_STAFF, area=w.sub),
        staff_a=make_user("staff_a", Role.COMMUNITY_STAFF, area=w.comm_a),
        staff_b=make_user("staff_b", Role.COMMUNITY_STAFF, area=w.comm_b),
        worker_a1=make_user("worker_a1", Role.GRID_WORKER, area=w.grid_a1),
        head_a1=make_user("head_a1", Role.BUILDING_HEAD, area=w.grid_a1),
        head_b1=make_user("head_b1", Role.BUILDING_HEAD, area=w.grid_b1),
        party=make_user("party", Role.PARTY_MEMBER, area=w.grid_a1),
        resident=make_user("resident", Role.RESIDENT),
    )


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


class Api:
    """A JSON client for /api/v1/registry logged in as one user."""

    def __init__(self, user=None, *, language: str = "en"):
        self.client = Client()
        if user is not None:
            self.client.force_login(user)
        self.language = language

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(
            "/api/v1/registry" + path, params or {}, HTTP_ACCEPT_LANGUAGE=self.language, **extra
        )

    def post(self, path: str, data: dict | None = None, **extra):
        return self.client.post(
            "/api/v1/registry" + path, json.dumps(data if data is not None else {}),
            content_type="application/json", HTTP_ACCEPT_LANGUAGE=self.language, **extra,
        )  # fmt: skip

    def patch(self, path: str, data: dict, **extra):
        return self.client.patch(
            "/api/v1/registry" + path, json.dumps(data), content_type="application/json",
            HTTP_ACCEPT_LANGUAGE=self.language, **extra,
        )  # fmt: skip

    def delete(self, path: str, **extra):
        return self.client.delete("/api/v1/registry" + path, HTTP_ACCEPT_LANGUAGE=self.language, **extra)

    def upload(self, data: bytes, name: str, **form):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(
            "/api/v1/registry/imports", {"file": SimpleUploadedFile(name, data), **form},
            HTTP_ACCEPT_LANGUAGE=self.language,
        )  # fmt: skip


@pytest.fixture
def small_batches(settings):
    settings.GRIDGOV_REGISTRY_BATCH_ROWS = 50
