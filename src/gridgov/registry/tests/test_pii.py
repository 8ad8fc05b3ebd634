"""Personal information: masking by role, reveal with logging, grants, care groups, the access log,
exports, and proof that no plaintext ID number or phone leaks into responses, logs or the database."""

from __future__ import annotations

import io
import logging
import re
import tempfile
from pathlib import Path

import openpyxl
import pytest
from django.db import connection

from gridgov.accounts.models import AuditEvent
from gridgov.registry import vault
from gridgov.registry.models import CareMembership, PiiAccessLog, Resident
from gridgov.registry.pii import mask_id, mask_phone
from gridgov.registry.tests.conftest import Api, csv_bytes, id_for, resident_rows, run_import

ROWS = 12


@pytest.fixture
def registry(people, world):
    run_import(people.staff_a, csv_bytes(resident_rows(ROWS)))
    run_import(people.staff_b, csv_bytes(resident_rows(3, building=world.b1.code, start=100)))
    return Resident.objects.get(name="居民0")


def _reads():
    """The access log without the registrations the fixture's imports logged."""
    return PiiAccessLog.objects.exclude(action="register")


def _plain_values() -> list[str]:
    out = []
    for r in Resident.objects.all():
        out.append(vault.decrypt(r.id_enc, r.pii_key, "id_number"))
        out.append(vault.decrypt(r.phone_enc, r.pii_key, "phone"))
    return out


def test_masks():
    assert mask_id("440309199001011237") == "440***********1237"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0755-12345678") == "0755****5678"


def test_masked_by_default_and_revealed_per_role(people, registry):
    number, phone = id_for(0, "F"), "13900000000"
    body = Api(people.staff_a).get(f"/residents/{registry.pk}").json()
    assert body["id_number"] == mask_id(number) and body["phone"] == mask_phone(phone)
    assert body["masked"] == ["id_number", "phone"]
    assert body["revealable"] == ["phone"]  # what 显示明文 would show this user (a read logs nothing)
    assert _reads().count() == 0
    # Community staff and grid workers of the area: phones on request, ID numbers not without a grant.
    for user in (people.staff_a, people.worker_a1):
        body = Api(user).get(f"/residents/{registry.pk}", {"reveal": "true", "purpose": "走访核实"}).json()
        assert (
            body["phone"] == phone
            and body["id_number"] == mask_id(number)
            and body["masked"] == ["id_number"]
            and body["revealable"] == []
        )
    log = _reads().filter(username="staff_a").get()
    assert (log.action, log.object_type, log.fields, log.purpose) == (
        "view",
        "resident",
        ["phone"],
        "走访核实",
    )
    assert log.object_refs == f",{registry.pk}," and log.endpoint.startswith(
        "GET /api/v1/registry/residents/"
    )
    # Building heads, leaders and subdistrict staff see masked values even when they ask.
    for user in (people.head_a1, people.leader, people.sub_staff):
        assert Api(user).get(f"/residents/{registry.pk}").json()["revealable"] == []
        body = Api(user).get(f"/residents/{registry.pk}", {"reveal": "true"}).json()
        assert body["phone"] == mask_phone(phone) and body["id_number"] == mask_id(number)
    assert _reads().count() == 2


def test_id_numbers_need_an_audited_grant_from_the_security_admin(people, registry, world):
    api = Api(people.security)
    payload = {
        "user_id": people.staff_a.pk,
        "field": "id_number",
        "area_code": world.comm_a.code,
        "reason": "低保复核",
    }
    assert Api(people.admin).post("/pii-grants", payload).status_code == 403
    assert Api(people.staff_a).post("/pii-grants", payload).status_code == 403
    refused = api.post("/pii-grants", {**payload, "user_id": people.admin.pk})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "user_id"
    r = api.post("/pii-grants", payload)
    assert r.status_code == 201, r.content
    grant_id = r.json()["id"]
    assert AuditEvent.objects.filter(
        event_type="role_grant", object_type="pii_grant", object_id=str(grant_id)
    ).exists()
    # the grant holder's screen now offers the ID number too
    assert Api(people.staff_a).get(f"/residents/{registry.pk}").json()["revealable"] == ["id_number", "phone"]
    body = Api(people.staff_a).get(f"/residents/{registry.pk}", {"reveal": "true"}).json()
    assert body["id_number"] == id_for(0, "F") and body["masked"] == []
    # The grant covers community A only.
    other = Resident.objects.get(name="居民100")
    assert Api(people.staff_a).get(f"/residents/{other.pk}").status_code == 404
    assert api.delete(f"/pii-grants/{grant_id}").status_code == 204
    assert Api(people.staff_a).get(f"/residents/{registry.pk}").json()["revealable"] == ["phone"]
    body = Api(people.staff_a).get(f"/residents/{registry.pk}", {"reveal": "true"}).json()
    assert body["id_number"] == mask_id(id_for(0, "F"))


def test_system_admin_sees_no_personal_information(people, registry):
    api = Api(people.admin)
    assert api.get("/residents").json() == {"items": [], "count": 0}
    assert api.get(f"/residents/{registry.pk}").status_code == 404
    assert api.get("/care-members").status_code == 403
    assert api.post("/exports", {"kind": "residents"}).status_code == 403


def test_search_by_exact_id_number_and_phone_is_a_logged_reveal_for_grant_holders_only(
    people, registry, world
):
    """An exact match confirms the whole value: the search is a reveal. ID numbers need a grant (and are
    looked up only under it), phones the phone rule; everybody else is refused whatever the value."""
    from gridgov.registry.models import PiiGrant

    api = Api(people.staff_a)
    for value in (id_for(0, "F"), id_for(500)):  # registered or not: the same refusal, audited
        r = api.get("/residents", {"id_number": value})
        assert r.status_code == 403 and r.json()["detail"].startswith("Searching by an exact ID number")
    denied = AuditEvent.objects.filter(
        event_type="permission_denied", detail__action="registry.search.id_number"
    )
    assert denied.count() == 2
    for user in (people.head_a1, people.leader, people.sub_staff):
        assert Api(user).get("/residents", {"phone": "13900000000"}).status_code == 403
    assert api.get("/residents", {"phone": "139 0000 0000"}).json()["count"] == 1
    PiiGrant.objects.create(
        user=people.staff_a,
        field="id_number",
        area=world.grid_a1,
        reason="低保复核",
        granted_by=people.security,
    )
    found = api.get("/residents", {"id_number": id_for(0, "F").lower()}).json()
    assert found["count"] == 1 and found["items"][0]["id"] == registry.pk
    assert api.get("/residents", {"id_number": id_for(500)}).json()["count"] == 0
    other = Resident.objects.get(name="居民100")  # community B: outside the grant (and the scope)
    number = vault.decrypt(other.id_enc, other.pii_key, "id_number")
    assert api.get("/residents", {"id_number": number}).json()["count"] == 0
    logs = list(_reads().order_by("id").values_list("action", "fields", "object_refs", "detail"))
    assert logs == [
        ("view", ["phone"], f",{registry.pk},", {"search": ["phone"]}),
        ("view", ["id_number"], f",{registry.pk},", {"search": ["id_number"]}),
        ("view", ["id_number"], "", {"search": ["id_number"]}),
        ("view", ["id_number"], "", {"search": ["id_number"]}),
    ]


def test_exact_searches_are_limited_per_user(people, registry, settings):
    """Even a grant holder cannot test number after number: over the limit the search answers 429 with
    Retry-After in the user's language, and nothing is looked up or logged."""
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "registry-exact-search": "3/h"}
    api = Api(people.staff_a)
    for _ in range(3):
        assert api.get("/residents", {"phone": "139 0000 0000"}).json()["count"] == 1
    logged = _reads().count()
    r = api.get("/residents", {"phone": "139 0000 0000"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["detail"].startswith("Too many attempts")
    zh = Api(people.staff_a, language="zh-hans").get("/residents", {"phone": "13900000001"})
    assert zh.status_code == 429 and zh.json()["detail"].startswith("尝试次数过多")
    assert _reads().count() == logged
    assert api.get("/residents").status_code == 200  # browsing is not an exact search
    assert Api(people.worker_a1).get("/residents", {"phone": "139 0000 0000"}).json()["count"] == 1


def test_care_groups_only_for_care_roles(people, registry):
    staff = Api(people.staff_a)
    r = staff.post("/care-members", {"resident_id": registry.pk, "group": "elderly_alone", "note": "独居"})
    assert r.status_code == 201, r.content
    assert (
        Api(people.worker_a1)
        .post("/care-members", {"resident_id": registry.pk, "group": "disabled"})
        .status_code
        == 403
    )
    assert staff.get("/residents", {"care_group": "elderly_alone"}).json()["count"] == 1
    assert staff.get(f"/residents/{registry.pk}").json()["care_groups"] == ["elderly_alone"]
    groups = {g["group"]: g["count"] for g in staff.get("/care-groups").json()}
    assert groups["elderly_alone"] == 1
    # A grid worker sees the resident, not the care group; the phone rule is the one of every resident
    # (test_nothing_a_grid_worker_reads_differs_by_care_group).
    worker = Api(people.worker_a1)
    body = worker.get(f"/residents/{registry.pk}", {"reveal": "true"}).json()
    assert body["care_groups"] is None and body["phone"] == "13900000000"
    assert worker.get("/care-members").status_code == 403
    assert worker.get("/residents", {"care_group": "elderly_alone"}).status_code == 403
    assert Api(people.staff_b).get("/care-members").json()["count"] == 0
    assert PiiAccessLog.objects.filter(action="care_view").exists()


def test_export_is_scoped_masked_and_logged(people, registry):
    api = Api(people.staff_a)
    r = api.post("/exports", {"kind": "residents", "format": "xlsx"})
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    assert ws.max_row == ROWS + 1 and ws.cell(1, 3).value == "公民身份号码"
    assert ws.cell(2, 3).value == mask_id(id_for(0, "F")) and ws.cell(2, 5).value == mask_phone("13900000000")
    r = api.post(
        "/exports", {"kind": "residents", "format": "csv", "reveal": True, "purpose": "人口普查核对"}
    )
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    assert text.count("\n") == ROWS + 1 and "13900000000" in text and id_for(0, "F") not in text
    logs = list(PiiAccessLog.objects.filter(action="export").order_by("id"))
    assert [(x.count, x.fields) for x in logs] == [(ROWS, []), (ROWS, ["phone"])]
    assert logs[1].purpose == "人口普查核对" and logs[1].detail["format"] == "csv"
    assert Api(people.head_a1).post("/exports", {"kind": "residents"}).status_code == 403
    units = api.post("/exports", {"kind": "units", "format": "csv"})
    assert b"".join(units.streaming_content).decode("utf-8-sig").startswith("单位名称")


def test_access_log_is_for_the_audit_admin_only(people, registry):
    Api(people.staff_a).get(f"/residents/{registry.pk}", {"reveal": "true"})
    Api(people.staff_a).post("/exports", {"kind": "residents", "format": "csv"})
    auditor = Api(people.auditor)
    body = auditor.get("/access-log").json()  # the fixture's two imports, a reveal, an export
    assert body["count"] == 4 and {i["action"] for i in body["items"]} == {"register", "view", "export"}
    one = auditor.get("/access-log", {"object_id": registry.pk, "action": "view"}).json()
    assert one["count"] == 1 and one["items"][0]["object_ids"] == [registry.pk]
    assert auditor.get("/access-log", {"username": "nobody"}).json()["count"] == 0
    for user in (people.admin, people.security, people.staff_a):
        assert Api(user).get("/access-log").status_code == 403
    assert _reads().count() == 2
    with pytest.raises(PermissionError):
        PiiAccessLog.objects.all().delete()


def test_no_full_id_number_or_phone_for_roles_without_permission(people, registry, world, caplog):
    """Every registry GET, for roles without the permission, with reveal asked for: no plaintext value
    appears in any response body, export or log line."""
    secrets = _plain_values()
    assert len(secrets) == 2 * (ROWS + 3)
    pattern = re.compile("|".join(re.escape(s) for s in secrets))
    caplog.set_level(logging.DEBUG)
    paths = [
        "/residents", f"/residents/{registry.pk}", f"/residents/{registry.pk}/history", "/households",
        "/units", "/submissions", "/imports", "/exports residents csv", "/exports residents xlsx",
        "/exports households csv", "/care-members", "/care-groups", "/access-log", "/pii-grants",
    ]  # fmt: skip
    checked = 0
    for user in (people.head_a1, people.leader, people.sub_staff, people.admin, people.security, people.auditor,
                 people.party, people.resident):  # fmt: skip
        api = Api(user)
        for path in paths:
            for params in ({}, {"reveal": "true"}):
                if path.startswith("/exports"):
                    _, kind, fmt = path.split()
                    r = api.post("/exports", {"kind": kind, "format": fmt, "reveal": bool(params)})
                else:
                    r = api.client.get("/api/v1/registry" + path, params)
                content = b"".join(r.streaming_content) if r.streaming else r.content
                if path.endswith("xlsx") and r.status_code == 200:  # the cells, not the zip
                    ws = openpyxl.load_workbook(io.BytesIO(content)).active
                    content = "\n".join(str(c.value) for row in ws.iter_rows() for c in row).encode()
                assert not pattern.search(content.decode("utf-8", "replace")), f"{user} {path} {params}"
                checked += 1
    for record in caplog.records:
        assert not pattern.search(record.getMessage())
    assert checked == 8 * len(paths) * 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_database_holds_no_plaintext_id_number_or_phone(people, registry, pii_log_flushable):
    """Every column of every table, as text (and the SQLite database file itself)."""
    from gridgov.registry.tests.test_collection import collect_one

    collect_one(people)  # a pending submission holds an ID number too
    secrets = [s for s in _plain_values() if s]
    with connection.cursor() as c:
        for table in connection.introspection.table_names():
            c.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in c.fetchall():
                text = " ".join(bytes(v).hex() if isinstance(v, bytes | memoryview) else str(v) for v in row)
                raw = b" ".join(bytes(v) for v in row if isinstance(v, bytes | memoryview))
                for s in secrets:
                    assert s not in text and s.encode() not in raw, (table, s)
    if connection.vendor == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "copy.sqlite3"
            with connection.cursor() as c:
                c.execute("VACUUM INTO %s", [str(path)])  # the test database, pages and all, into a file
            data = path.read_bytes()
        assert "居民11".encode() in data  # the file holds the records …
        for s in secrets:
            assert s.encode() not in data and s.encode("utf-16-le") not in data  # … but no plaintext


def test_ciphertexts_are_bound_to_their_field_and_key(registry):
    blob = bytes(registry.id_enc)
    with pytest.raises(vault.VaultError):
        vault.decrypt(blob, registry.pii_key, "phone")
    with pytest.raises(vault.VaultError):
        vault.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), registry.pii_key, "id_number")
    assert CareMembership.objects.count() == 0


def test_the_access_log_refuses_raw_sql_update_and_delete(people, registry):
    """Append-only in the database too (triggers, SQLite and PostgreSQL), like the security audit log: a raw
    UPDATE or DELETE fails whatever client sends it; only rows past the 183-day retention may be deleted."""
    import datetime as dt

    from django.db import DatabaseError, transaction
    from django.utils import timezone

    from gridgov.core import timeline

    Api(people.staff_a).get(f"/residents/{registry.pk}", {"reveal": "true"})
    row = _reads().get()
    table = connection.ops.quote_name(PiiAccessLog._meta.db_table)
    for sql, params in (
        (f"UPDATE {table} SET username = %s WHERE id = %s", ["someone_else", row.pk]),  # noqa: S608
        (f"UPDATE {table} SET at = %s WHERE id = %s", [timezone.now() - dt.timedelta(days=400), row.pk]),  # noqa: S608
        (f"DELETE FROM {table} WHERE id = %s", [row.pk]),  # noqa: S608
        (f"DELETE FROM {table}", []),  # noqa: S608
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    assert _reads().get().username == "staff_a"
    # A row past the retention period may go (a purge), as in the audit log.
    old = timeline.record(
        PiiAccessLog, at=timezone.now() - dt.timedelta(days=400), username="old", action="view"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [old.pk])  # noqa: S608
    assert list(_reads().values_list("username", flat=True)) == ["staff_a"]
