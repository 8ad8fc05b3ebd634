"""Exports of residents, units and households: scoped, masked (unless revealed and allowed), logged.

`.xlsx` is written with xlsxwriter in constant-memory mode into a private temporary file (rows flushed
as they are written, so a million rows use little memory) and then streamed; `.csv` (UTF-8 with BOM,
which Excel opens correctly) is streamed row by row while the database is read in chunks. The columns
are the import template's, so an export with revealed values can be imported elsewhere.
Every export writes one `PiiAccessLog` row (count, filters, fields unmasked).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils import timezone

from gridgov.registry import jobs, vault
from gridgov.registry.importer import FORMULA_START
from gridgov.registry.models import CareMembership, PiiAction, PiiField
from gridgov.registry.pii import log_access, mask_id, mask_phone, policy_for

CHUNK = 2000
GENDER_ZH = {"M": "男", "F": "女"}
RTYPE_ZH = {"registered": "户籍", "floating": "流动", "tenant": "租住"}
RELATION_ZH = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "grandchild": "孙子女",
    "other": "其他",
}
KIND_ZH = {"company": "企业", "shop": "商铺", "organisation": "机构"}
CARE_ZH = {
    "elderly_alone": "独居老人", "disabled": "残疾人", "low_income": "低保", "left_behind_child": "留守儿童",
    "extreme_hardship": "特困", "serious_illness": "重病", "veteran": "优抚对象",
}  # fmt: skip

RESIDENT_HEADER = [
    "姓名", "性别", "公民身份号码", "出生日期", "联系电话", "人员类型", "楼栋编码", "地址", "单元", "房号", "户号",
    "与户主关系", "迁入日期", "迁出日期",
]  # fmt: skip
UNIT_HEADER = [
    "单位名称",
    "统一社会信用代码",
    "单位类型",
    "楼栋编码",
    "地址",
    "房号",
    "联系人",
    "联系电话",
    "从业人数",
]
HOUSEHOLD_HEADER = ["户编号", "户号", "楼栋编码", "地址", "单元", "房号", "户主", "人数"]


def _safe(value) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_START else text


def _date(value) -> str:
    return value.isoformat() if value else ""


class _Counter:
    def __init__(self):
        self.rows = 0
        self.revealed: set[str] = set()
        self.ids: list[int] = []


def resident_rows(user, qs: QuerySet, *, reveal: bool, counter: _Counter) -> Iterator[list[str]]:
    policy = policy_for(user)
    for chunk in _chunks(qs.select_related("building__grid", "house", "household")):
        care = {}
        if reveal:
            for rid, group in CareMembership.objects.filter(
                resident_id__in=[r.pk for r in chunk]
            ).values_list("resident_id", "group"):
                care.setdefault(rid, []).append(group)
        for r in chunk:
            path = r.building.grid.path
            id_number = vault.decrypt(r.id_enc, r.pii_key, "id_number")
            phone = vault.decrypt(r.phone_enc, r.pii_key, "phone") if r.phone_enc else ""
            show_id = reveal and policy.may(PiiField.ID_NUMBER, path)
            show_phone = reveal and bool(phone) and policy.may(PiiField.PHONE, path)
            if show_phone and care.get(r.pk) and not policy.may(PiiField.CARE, path):
                show_phone = False  # the phone of a resident in a care group needs the care permission
            if show_id:
                counter.revealed.add("id_number")
            if show_phone:
                counter.revealed.add("phone")
            counter.rows += 1
            if len(counter.ids) < 1000:
                counter.ids.append(r.pk)
            yield [
                r.name, GENDER_ZH.get(r.gender, ""), id_number if show_id else mask_id(id_number),
                _date(r.birth_date), phone if show_phone else mask_phone(phone), RTYPE_ZH.get(r.residence_type, ""),
                r.building.code, r.building.address, r.house.unit if r.house_id else "",
                r.house.room if r.house_id else "", r.household.number if r.household_id else "",
                RELATION_ZH.get(r.relation, ""), _date(r.moved_in), _date(r.moved_out),
            ]  # fmt: skip


def unit_rows(user, qs: QuerySet, *, reveal: bool, counter: _Counter) -> Iterator[list[str]]:
    policy = policy_for(user)
    for chunk in _chunks(qs.select_related("building__grid", "house")):
        for u in chunk:
            phone = vault.decrypt(u.phone_enc, u.pii_key, "phone") if u.phone_enc else ""
            show = reveal and bool(phone) and policy.may(PiiField.PHONE, u.building.grid.path)
            if show:
                counter.revealed.add("phone")
            counter.rows += 1
            if len(counter.ids) < 1000:
                counter.ids.append(u.pk)
            yield [
                u.name, u.credit_code or "", KIND_ZH.get(u.kind, ""), u.building.code, u.address,
                u.house.room if u.house_id else "", u.contact_name, phone if show else mask_phone(phone),
                str(u.employees),
            ]  # fmt: skip


def household_rows(user, qs: QuerySet, *, reveal: bool, counter: _Counter) -> Iterator[list[str]]:
    for chunk in _chunks(qs.select_related("house__building", "head")):
        for h in chunk:
            counter.rows += 1
            if len(counter.ids) < 1000:
                counter.ids.append(h.pk)
            yield [
                str(h.pk), h.number, h.house.building.code, h.house.building.address, h.house.unit, h.house.room,
                h.head.name if h.head_id else "", str(getattr(h, "member_count", "")),
            ]  # fmt: skip


def _chunks(qs: QuerySet) -> Iterator[list]:
    """Keyset pagination by id: steady memory and speed over millions of rows, on any database."""
    last = 0
    qs = qs.order_by("pk")
    while True:
        chunk = list(qs.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


WRITERS = {
    "residents": (RESIDENT_HEADER, resident_rows),
    "units": (UNIT_HEADER, unit_rows),
    "households": (HOUSEHOLD_HEADER, household_rows),
}


def export_response(
    user, kind: str, qs: QuerySet, *, file_format: str, reveal: bool, purpose: str,
    request: HttpRequest | None, filters: dict,
):  # fmt: skip
    header, rows_of = WRITERS[kind]
    counter = _Counter()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    name = f"{kind}-{stamp}.{file_format}"
    filters = {k: v for k, v in filters.items() if v not in (None, "", False)}
    if file_format == "csv":
        total = qs.count()
        policy = policy_for(user)
        may = [f for f in ("id_number", "phone") if reveal and getattr(policy, f)]
        log_access(user, PiiAction.EXPORT, object_type=kind.rstrip("s"), ids=list(qs.order_by("pk").values_list(
            "pk", flat=True)[:1000]), count=total, fields=may, purpose=purpose, request=request,
            detail={"format": "csv", "filters": filters})  # fmt: skip

        def stream() -> Iterator[bytes]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            buffer.write("\ufeff")
            writer.writerow(header)
            for i, row in enumerate(rows_of(user, qs, reveal=reveal, counter=counter)):
                writer.writerow([_safe(v) for v in row])
                if i % 500 == 499:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode("utf-8")

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    else:
        import xlsxwriter

        fd, tmp = tempfile.mkstemp(prefix="gridgov-export-", suffix=".xlsx", dir=jobs.storage_dir())
        os.close(fd)
        try:
            wb = xlsxwriter.Workbook(tmp, {"constant_memory": True, "strings_to_formulas": False})
            ws = wb.add_worksheet(kind)
            bold = wb.add_format({"bold": True})
            ws.write_row(0, 0, header, bold)
            for r, row in enumerate(rows_of(user, qs, reveal=reveal, counter=counter), 1):
                for c, value in enumerate(row):
                    ws.write_string(r, c, value or "")
            wb.close()
            log_access(
                user, PiiAction.EXPORT, object_type=kind.rstrip("s"), ids=counter.ids, count=counter.rows,
                fields=sorted(counter.revealed), purpose=purpose, request=request,
                detail={"format": "xlsx", "filters": filters},
            )  # fmt: skip
            handle = open(tmp, "rb")  # noqa: SIM115 - FileResponse closes it
        finally:
            os.unlink(tmp)  # the open handle keeps the data until the response is sent
        response = FileResponse(
            handle, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
