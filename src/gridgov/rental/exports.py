"""The Excel export of the rental figures (GET /rental/figures.xlsx): the same area and period as the
figures screen, a sheet per table — grades per child area (houses and rooms), tenancy categories per
child area, inspection timeliness, hazards and rectification — written by the kernel's spreadsheet writer
(`core.tabular.export.SafeBook`: no formula from data) in the user's language (Chinese unless the request
asks for English).

The figures are counts of houses per area and carry nothing about a person, so the export writes no
access-log entry (the PII access log records exports of personal data: registry, cases)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.tabular.export import XLSX_TYPE, SafeBook
from gridgov.rental import selectors
from gridgov.rental.models import GRADE_ORDER, Grade


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
