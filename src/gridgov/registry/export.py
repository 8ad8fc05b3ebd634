"""Exports of residents, units and households: scoped, masked (unless revealed and allowed), logged.

Declared as export specs on the tabular kernel (`gridgov.core.tabular.export`): `.xlsx` is written in
constant-memory mode into a private temporary file and then streamed; `.csv` (UTF-8 with BOM, which
Excel opens correctly) is streamed row by row while the database is read in chunks. The columns
are the import template's, so an export with revealed values can be imported elsewhere.
Every export writes one `PiiAccessLog` row (count, filters, fields unmasked).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from gridgov.core.tabular.export import Counter, ExportColumn, ExportSpec, iso, response
from gridgov.registry import jobs, vault
from gridgov.registry.models import PiiAction, PiiField
from gridgov.registry.pii import log_access, mask_id, mask_phone, policy_for

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


def _no_birth_date(value: str) -> str:
    return ""


def _phone(obj) -> str:
    return vault.decrypt(obj.phone_enc, obj.pii_key, "phone") if obj.phone_enc else ""


RESIDENTS = ExportSpec("residents", (
    ExportColumn("姓名", lambda r: r.name),
    ExportColumn("性别", lambda r: GENDER_ZH.get(r.gender, "")),
    ExportColumn("公民身份号码", lambda r: vault.decrypt(r.id_enc, r.pii_key, "id_number"), mask_id, "id_number"),
    ExportColumn("出生日期", lambda r: iso(r.birth_date), _no_birth_date, "id_number"),  # part of the ID number
    ExportColumn("联系电话", _phone, mask_phone, "phone"),
    ExportColumn("人员类型", lambda r: RTYPE_ZH.get(r.residence_type, "")),
    ExportColumn("楼栋编码", lambda r: r.building.code),
    ExportColumn("地址", lambda r: r.building.address),
    ExportColumn("单元", lambda r: r.house.unit if r.house_id else ""),
    ExportColumn("房号", lambda r: r.house.room if r.house_id else ""),
    ExportColumn("户号", lambda r: r.household.number if r.household_id else ""),
    ExportColumn("与户主关系", lambda r: RELATION_ZH.get(r.relation, "")),
    ExportColumn("迁入日期", lambda r: iso(r.moved_in)),
    ExportColumn("迁出日期", lambda r: iso(r.moved_out)),
), select_related=("building__grid", "house", "household"))  # fmt: skip

UNITS = ExportSpec("units", (
    ExportColumn("单位名称", lambda u: u.name),
    ExportColumn("统一社会信用代码", lambda u: u.credit_code or ""),
    ExportColumn("单位类型", lambda u: KIND_ZH.get(u.kind, "")),
    ExportColumn("楼栋编码", lambda u: u.building.code),
    ExportColumn("地址", lambda u: u.address),
    ExportColumn("房号", lambda u: u.house.room if u.house_id else ""),
    ExportColumn("联系人", lambda u: u.contact_name),
    ExportColumn("联系电话", _phone, mask_phone, "phone"),
    ExportColumn("从业人数", lambda u: str(u.employees)),
), select_related=("building__grid", "house"))  # fmt: skip

HOUSEHOLDS = ExportSpec("households", (
    ExportColumn("户编号", lambda h: str(h.pk)),
    ExportColumn("户号", lambda h: h.number),
    ExportColumn("楼栋编码", lambda h: h.house.building.code),
    ExportColumn("地址", lambda h: h.house.building.address),
    ExportColumn("单元", lambda h: h.house.unit),
    ExportColumn("房号", lambda h: h.house.room),
    ExportColumn("户主", lambda h: h.head.name if h.head_id else ""),
    ExportColumn("人数", lambda h: str(getattr(h, "member_count", ""))),
), select_related=("house__building", "head"))  # fmt: skip

SPECS = {"residents": RESIDENTS, "units": UNITS, "households": HOUSEHOLDS}


def rows(user, kind: str, qs: QuerySet, *, reveal: bool, counter: Counter):
    """The rows of an export: personal data masked unless `reveal` is asked and the policy allows it for
    the record's grid; the birth date only beside an unmasked ID number."""
    policy = policy_for(user)

    def may_see(obj, name: str, value) -> bool:
        if not reveal:
            return False
        path = obj.building.grid.path
        if name == "id_number":
            return policy.may(PiiField.ID_NUMBER, path)
        # The same phone rule for every resident: a care-dependent one would show who is in a care group.
        return bool(value) and policy.may(PiiField.PHONE, path)

    return SPECS[kind].rows(qs, reveal=may_see, counter=counter)


def export_response(
    user, kind: str, qs: QuerySet, *, file_format: str, reveal: bool, purpose: str,
    request: HttpRequest | None, filters: dict,
):  # fmt: skip
    counter = Counter()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    name = f"{kind}-{stamp}.{file_format}"
    filters = {k: v for k, v in filters.items() if v not in (None, "", False)}
    object_type = kind.rstrip("s")

    def log() -> None:
        if file_format == "csv":  # logged before the first byte: the stream's figures are not known yet
            policy = policy_for(user)
            may = [f for f in ("id_number", "phone") if reveal and getattr(policy, f)]
            log_access(user, PiiAction.EXPORT, object_type=object_type, ids=list(qs.order_by("pk").values_list(
                "pk", flat=True)[:1000]), count=qs.count(), fields=may, purpose=purpose, request=request,
                detail={"format": "csv", "filters": filters})  # fmt: skip
        else:
            log_access(
                user, PiiAction.EXPORT, object_type=object_type, ids=counter.ids, count=counter.rows,
                fields=sorted(counter.revealed), purpose=purpose, request=request,
                detail={"format": "xlsx", "filters": filters},
            )  # fmt: skip

    return response(
        name, SPECS[kind].header, rows(user, kind, qs, reveal=reveal, counter=counter), file_format=file_format,
        sheet=kind, work_dir=jobs.storage_dir(), before_send=log,
    )  # fmt: skip
