"""The Excel exports of rental housing, on the tabular kernel (`gridgov.core.tabular.export`).

The rental list (GET /rental/houses.xlsx), written in constant memory like the registry's exports: the
columns of the rental-list import template (so an export can be edited and imported elsewhere) and then
the grade, the last inspection day, the next due day and the house code. The landlord's ID number is
personal data: masked (440***********1234) unless the export asks to reveal it and the user holds an
ID-number grant for the house's area (registry/pii.py); every export writes one row of the
personal-information access log (count, filters, fields shown unmasked). An export is capped at
`EXPORT_MAX_ROWS` rows: a larger one is refused (narrow it by area).

The figures (GET /rental/figures.xlsx): the same area and period as the figures screen, a sheet per table —
grades per child area (houses and rooms), tenancy categories per child area, inspection timeliness, hazards
and rectification — written by the kernel's spreadsheet writer (`SafeBook`: no formula from data). The
figures are counts of houses per area and carry nothing about a person, so that export writes no
access-log entry.

Headings in the user's language (Chinese by default, English with Accept-Language en; the import reads
both)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from gridgov.core.errors import ValidationFailed
from gridgov.core.tabular.export import XLSX_TYPE, Counter, ExportColumn, ExportSpec, SafeBook, iso, response
from gridgov.registry import vault
from gridgov.registry.models import PiiAction, PiiField
from gridgov.registry.pii import log_access, mask_id, policy_for
from gridgov.rental import jobs, selectors
from gridgov.rental.importer import COLUMN_NAMES_EN, GRADE_ZH, LIST_COLUMNS
from gridgov.rental.models import GRADE_ORDER, Grade

# --- the rental list -------------------------------------------------------------------------------------
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


def houses_response(
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


# --- the figures -----------------------------------------------------------------------------------------
def _areas(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The children of the area, then the area itself as the total line."""
    return [*figures["children"], {**figures["area"], "name": _("Total") + f" ({figures['area']['name']})"}]


def grade_label(grade: str) -> str:
    return str(Grade(grade).label) if grade != selectors.UNGRADED else _("Not yet graded")


def workbook(user, area_code: str, start: dt.date | None, end: dt.date | None) -> bytes:
    """The figures of the area (and its period) as the bytes of an .xlsx."""
    figures = selectors.figures(user, area_code)
    activity = selectors.activity(user, area_code, start, end)
    grades = [*GRADE_ORDER, selectors.UNGRADED]
    categories = list(figures["category_names"])
    buffer = io.BytesIO()
    book = SafeBook(buffer)
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    area_head = [_("Area code"), _("Area")]

    def sheet(name: str, header: list[str], rows: list[list[Any]], widths=(16, 28)):
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, 1):
            ws.write_row(r, 0, row)
        ws.set_column(0, 0, widths[0])
        ws.set_column(1, 1, widths[1])
        ws.set_column(2, len(header), 12)
        ws.freeze_panes(1, 2)
        return ws

    header = [*area_head]
    for g in grades:
        header += [f"{grade_label(g)} · {_('houses')}", f"{grade_label(g)} · {_('rooms')}"]
    header += [_("Rental houses"), _("Rooms")]
    rows = []
    for a in _areas(figures):
        row: list[Any] = [a["code"], a["name"]]
        for g in grades:
            row += [a["grades"][g]["houses"], a["grades"][g]["rooms"]]
        rows.append([*row, a["houses"], a["rooms"]])
    sheet(_("Grades"), header, rows)

    header = [*area_head]
    for c in categories:
        name = figures["category_names"][c]
        header += [f"{name} · {_('houses')}", f"{name} · {_('rooms')}"]
    rows = []
    for a in _areas(figures):
        row = [a["code"], a["name"]]
        for c in categories:
            counts = a["categories"].get(c, {"houses": 0, "rooms": 0})
            row += [counts["houses"], counts["rooms"]]
        rows.append(row)
    sheet(_("Tenancy categories"), header, rows)

    period = f"{activity['date_from'].isoformat()} – {activity['date_to'].isoformat()}"
    header = [*area_head, _("Inspections"), _("Inspections with a due day"), _("On time"), _("Share on time")]
    rows = [
        [a["code"], a["name"], a["inspections"], a["inspections_due"], a["on_time"], a["on_time_share"]]
        for a in _areas(activity)
    ]
    ws = sheet(_("Timeliness"), header, rows)
    for r, a in enumerate(_areas(activity), 1):
        if a["on_time_share"] is not None:
            ws.write(r, 5, a["on_time_share"], percent)
    ws.write(len(rows) + 2, 0, _("Period") + ": " + period)

    header = [*area_head, _("Hazards opened"), _("Hazards closed"), _("Rectification cases open")]
    rows = [
        [a["code"], a["name"], a["hazards_opened"], a["hazards_closed"], a["rectification_open"]]
        for a in _areas(activity)
    ]
    ws = sheet(_("Hazards and rectification"), header, rows)
    ws.write(len(rows) + 2, 0, _("Period") + ": " + period)
    book.close()
    return buffer.getvalue()


def figures_response(user, area_code: str, start: dt.date | None, end: dt.date | None) -> HttpResponse:
    data = workbook(user, area_code, start, end)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    out = HttpResponse(data, content_type=XLSX_TYPE)
    out["Content-Disposition"] = f'attachment; filename="rental-figures-{area_code or "scope"}-{stamp}.xlsx"'
    out["Cache-Control"] = "no-store"
    out["X-Content-Type-Options"] = "nosniff"
    return out
