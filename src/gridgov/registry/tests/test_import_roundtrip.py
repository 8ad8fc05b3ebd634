"""Issue 13, finding 7: the template's example row imports as it is, the error workbook can be corrected
and uploaded again, and the on-screen error list names the columns as the template heads them."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from gridgov.accounts.models import Membership
from gridgov.registry import vault
from gridgov.registry.models import PiiAccessLog, Resident
from gridgov.registry.tests.conftest import HEADER, Api, csv_bytes, resident_rows
from gridgov.territory.models import Building, House
from gridgov.territory.places import LOCATION

pytestmark = pytest.mark.django_db


def _upload(api: Api, data: bytes, name: str, capture) -> dict:
    with capture(execute=True):  # the upload queues the job after its commit
        r = api.upload(data, name, mode="valid_rows", kind="residents")
    assert r.status_code == 201, r.content
    return api.get(f"/imports/{r.json()['id']}").json()


def test_the_example_building_code_has_the_documented_17_digits():
    example = next(c.example for c in LOCATION if c.key == "building_code")
    # docs/codes.md: a building is its community's 12-digit code and a 5-digit sequence
    assert re.fullmatch(r"4403090\d\d0\d\d\d{5}", example), example


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_the_templates_example_row_imports_cleanly(
    people, world, file_format, django_capture_on_commit_callbacks
):
    example = next(c.example for c in LOCATION if c.key == "building_code")
    building = Building.objects.create(
        grid=world.grid_a1,
        code=example,
        name="1栋",
        address="民治街道民治社区民治一区1栋",
        lng=114.005,
        lat=22.605,
    )
    House.objects.create(building=building, unit="1", floor=3, room="0301")
    api = Api(people.staff_a)
    template = api.get("/imports/template", {"kind": "residents", "format": file_format})
    assert template.status_code == 200
    job = _upload(api, template.content, f"template.{file_format}", django_capture_on_commit_callbacks)
    errors = api.get(f"/imports/{job['id']}/errors").json()["items"]
    assert (job["status"], job["inserted"], job["errors"], job["file_error"], errors) == (
        "done",
        1,
        0,
        None,
        [],
    )
    resident = Resident.objects.get()
    assert resident.name == "张三" and resident.building_id == building.pk and resident.house.room == "0301"


def test_the_error_workbook_round_trips(people, django_capture_on_commit_callbacks):
    api = Api(people.staff_a)
    rows = resident_rows(3)
    rows[1][3] = "12345"  # a bad phone
    job = _upload(api, csv_bytes(rows), "residents.csv", django_capture_on_commit_callbacks)
    assert (job["inserted"], job["errors"]) == (2, 1)
    book = api.client.get(job["error_workbook_url"])
    assert book.status_code == 200
    # the download is logged as a read of the rows' ID numbers and phones
    log = PiiAccessLog.objects.get(action="error_file")
    assert log.username == "staff_a" and log.count == 1 and log.fields == ["id_number", "phone"]
    wb = openpyxl.load_workbook(io.BytesIO(book.content))
    ws = wb.active
    header = [c.value for c in ws[1]]
    # the row as uploaded: the ID number unmasked, so the corrected row is the same person
    id_col = header.index("公民身份号码") + 1
    assert ws.cell(2, id_col).value == rows[1][2]
    ws.cell(2, header.index("联系电话") + 1).value = "13912345678"  # correct the bad cell
    fixed = io.BytesIO()
    wb.save(fixed)
    again = _upload(api, fixed.getvalue(), "errors-fixed.xlsx", django_capture_on_commit_callbacks)
    assert (again["status"], again["inserted"], again["errors"], again["file_error"]) == ("done", 1, 0, None)
    assert Resident.objects.count() == 3
    fixed_resident = Resident.objects.get(name=rows[1][0])
    assert vault.decrypt(fixed_resident.phone_enc, fixed_resident.pii_key, "phone") == "13912345678"


def test_only_the_uploader_with_the_import_right_downloads_the_error_workbook(
    people, django_capture_on_commit_callbacks
):
    api = Api(people.staff_a)
    rows = resident_rows(2)
    rows[0][3] = "12345"
    job = _upload(api, csv_bytes(rows), "residents.csv", django_capture_on_commit_callbacks)
    assert Api(people.staff_b).client.get(job["error_workbook_url"]).status_code == 404  # not theirs
    Membership.objects.filter(user=people.staff_a).delete()  # no longer community staff
    refused = Api(people.staff_a).client.get(job["error_workbook_url"])
    assert refused.status_code == 403 and not refused.content.startswith(b"PK")
    assert not PiiAccessLog.objects.filter(action="error_file").exists()


def test_the_error_list_names_columns_as_the_template_heads_them(people, django_capture_on_commit_callbacks):
    header = [*HEADER, "出生日期"]
    rows = [[*r, "1990-01-01"] for r in resident_rows(3)]
    rows[0][HEADER.index("楼栋编码")] = "99999999999999999"  # no such building
    rows[1][len(HEADER)] = "不是日期"  # a bad birth date
    api = Api(people.staff_a)
    job = _upload(api, csv_bytes(rows, header), "residents.csv", django_capture_on_commit_callbacks)
    zh = Api(people.staff_a, language="zh-hans").get(f"/imports/{job['id']}/errors").json()["items"]
    assert {(e["column"], e["column_label"]) for e in zh} >= {
        ("building_code", "楼栋编码"),
        ("birth_date", "出生日期"),
    }
    en = Api(people.staff_a, language="en").get(f"/imports/{job['id']}/errors").json()["items"]
    assert {e["column_label"] for e in en} >= {"Building code (楼栋编码)", "Date of birth (出生日期)"}
    assert not any("_" in e["column_label"] for e in zh + en)
