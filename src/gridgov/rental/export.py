"""Export of the rental list (.xlsx), declared as an export spec on the tabular kernel
(`gridgov.core.tabular.export`, written in constant memory, like the registry's exports in
registry/export.py): the columns of the rental-list import template (so an export can be edited and
imported elsewhere) and then the grade, the last inspection day, the next due day and the house code.

Headings in the user's language (Chinese by default, English with Accept-Language en; the import reads
both). The landlord's ID number is personal data: masked (440***********1234) unless the export asks to
reveal it and the user holds an ID-number grant for the house's area (registry/pii.py); every export writes
one row of the personal-information access log (count, filters, fields shown unmasked). An export is
capped at `EXPORT_MAX_ROWS` rows: a larger one is refused (narrow it by area).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gridgov.core.errors import ValidationFailed
from gridgov.core.tabular.export import Counter, ExportColumn, ExportSpec, iso, response
from gridgov.registry import vault
from gridgov.registry.models import PiiAction, PiiField
from gridgov.registry.pii import log_access, mask_id, policy_for
from gridgov.rental import jobs
from gridgov.rental.importer import COLUMN_NAMES_EN, GRADE_ZH, LIST_COLUMNS
from gridgov.rental.models import Grade

EXPORT_MAX_ROWS = 200_000
EXTRA_EN = {"grade_zh": "Grade", "last": "Last inspection", "next": "Next due", "code": "House code"}
EXTRA_ZH = {"grade_zh": "分级", "last": "最近检查日期", "next": "下次检查日期", "code": "一屋一码"}


def _landlord_id(r) -> str:
    p = r.landlord_resident
    return vault.decrypt(p.id_enc, p.pii_key, "id_number") if p is not None and p.id_enc else ""


def _grade(r) -> str:
    if not r.grade:
        return ""
    return GRADE_ZH[Grade(r.grade)] if _chinese() else str(Grade(r.grade).label)


def _chinese() -> bool:
    return (get_language() or "zh-hans").startswith("zh")


VALUES = {
    "building_code": lambda r: r.house.building.code,
    "address": lambda r: r.house.building.address,
    "unit": lambda r: r.house.unit,
    "room": lambda r: r.house.room,
    "category": lambda r: r.category.name,
    "landlord_id_number": _landlord_id,
    "landlord_credit_code": lambda r: (r.landlord_unit.credit_code or "") if r.landlord_unit_id else "",
    "filing_number": lambda r: r.filing_number,
    "pledge_date": lambda r: iso(r.pledge_date),
    "capacity_limit": lambda r: "" if r.capacity_limit is None else str(r.capacity_limit),
    "rooms": lambda r: "、".join(room.number for room in r.rooms.all()),
    "grade_zh": _grade,
    "last": lambda r: iso(r.last_inspected_on),
    "next": lambda r: iso(r.next_due_on),
    "code": lambda r: r.code,
}


def spec() -> ExportSpec:
    """The export's columns with headings in the current language."""
    zh = _chinese()
    columns = [
        ExportColumn(
            c.header if zh else COLUMN_NAMES_EN[c.key], VALUES[c.key],
            mask_id if c.key == "landlord_id_number" else None,
            "id_number" if c.key == "landlord_id_number" else "",
        )
        for c in LIST_COLUMNS
    ]  # fmt: skip
    columns += [ExportColumn((EXTRA_ZH if zh else EXTRA_EN)[k], VALUES[k]) for k in EXTRA_ZH]
    return ExportSpec(
        "rental-houses", tuple(columns),
        select_related=("house__building__grid", "category", "landlord_resident", "landlord_unit"),
    )  # fmt: skip


def export_response(
    user, qs: QuerySet, *, reveal: bool, purpose: str, request: HttpRequest | None, filters: dict
):
    total = qs.count()
    if total > EXPORT_MAX_ROWS:
        raise ValidationFailed(
            _("The export would have %(rows)s rows, at most %(max)s: narrow it by area.")
            % {"rows": total, "max": EXPORT_MAX_ROWS}
        )
    counter = Counter()
    policy = policy_for(user)

    def may_see(obj, name: str, value) -> bool:
        return reveal and bool(value) and policy.may(PiiField.ID_NUMBER, obj.house.building.grid.path)

    def log() -> None:
        log_access(
            user, PiiAction.EXPORT, object_type="rental_house", ids=counter.ids, count=counter.rows,
            fields=sorted(counter.revealed), purpose=purpose, request=request,
            detail={"format": "xlsx", "filters": {k: v for k, v in filters.items() if v not in (None, "", False)}},
        )  # fmt: skip

    export = spec()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    rows = export.rows(qs.prefetch_related("rooms"), reveal=may_see, counter=counter)
    return response(
        f"rental-houses-{stamp}.xlsx", export.header, rows, file_format="xlsx", sheet=_("Rental houses"),
        work_dir=jobs.storage_dir(), before_send=log,
    )  # fmt: skip
