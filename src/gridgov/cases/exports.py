"""The Excel export of a case list: the WHOLE filtered list (not a page), written on the server by the
kernel's one spreadsheet writer (`core.tabular.export`: formulas neutralised, constant memory, keyset
chunks), in the user's language, the reporters' contacts masked by the same rule as the case detail,
and one access-log entry per export (never one per row).

Also the shared wording of the remaining working time ("剩余 3 个工作日", "剩余 5 工时", "已超期 2 个工作日"),
used by the export and the printed work order.
"""

from __future__ import annotations

import math

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases import selectors
from gridgov.cases.models import OPEN_STATUSES, Case, Status
from gridgov.cases.schemas import remaining_work_seconds, work_day_seconds
from gridgov.core import pii
from gridgov.core.tabular.export import Counter, ExportColumn, ExportSpec, response

HOUR = 3600


def remaining_text(seconds: int | None, day_seconds: int | None = None) -> str:
    """The remaining working time in words: whole working days from one working day on, else working
    hours (rounded up); negative seconds read as overdue."""
    if seconds is None:
        return ""
    day = day_seconds or work_day_seconds() or 8 * HOUR
    late, span = seconds < 0, abs(seconds)
    if span >= day:
        n = max(1, round(span / day))
        return (_("Overdue by %(n)d working days") if late else _("%(n)d working days left")) % {"n": n}
    n = max(1, math.ceil(span / HOUR)) if span else 0
    return (_("Overdue by %(n)d working hours") if late else _("%(n)d working hours left")) % {"n": n}


def is_overdue(case: Case, now=None) -> bool:
    """Past its deadline: an open case now, a finished one when it was closed (超期办结)."""
    if case.due_at is None:
        return False
    if case.status in OPEN_STATUSES:
        return (now or timezone.now()) > case.due_at
    return case.closing_type == "overdue" or bool(case.closed_at and case.closed_at > case.due_at)


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _title(case: Case) -> str:
    first = (case.description or "").strip().splitlines()[0] if case.description.strip() else ""
    return first if len(first) <= 40 else first[:39] + "…"


def spec() -> ExportSpec:
    """The columns, headed in the request's language."""
    yes, no = _("Yes"), _("No")
    return ExportSpec(
        "cases",
        (
            ExportColumn(_("Case number"), lambda c: c.number),
            ExportColumn(_("Title"), _title),
            ExportColumn(_("Category"), lambda c: c.category.name if c.category_id else ""),
            ExportColumn(_("Status"), lambda c: str(Status(c.status).label)),
            ExportColumn(_("Past the deadline"), lambda c: yes if is_overdue(c) else no),
            ExportColumn(_("Grid name"), lambda c: c.grid.name if c.grid_id else c.area.name),
            ExportColumn(_("Handling departments"), lambda c: "、".join(getattr(c, "department_list", []))),
            ExportColumn(_("Reported at"), lambda c: _when(c.created_at)),
            ExportColumn(_("Deadline"), lambda c: _when(c.due_at)),
            ExportColumn(_("Closed at"), lambda c: _when(c.closed_at)),
            ExportColumn(
                _("Remaining working time"),
                lambda c: (
                    remaining_text(remaining_work_seconds(c.due_at)) if c.status in OPEN_STATUSES else ""
                ),
            ),
            ExportColumn(_("Reporter"), lambda c: c.reporter_name, pii.mask_name, "name"),
            ExportColumn(_("Reporter's phone"), lambda c: c.reporter_phone, pii.mask_phone, "phone"),
        ),
        select_related=("area", "grid", "category"),
    )


def export_response(
    user, qs: QuerySet[Case], *, request: HttpRequest | None, filters: dict, order: str = "created"
):
    """The .xlsx of every case of `qs` (already narrowed to what the user may see) in the list's `order`
    (selectors.ORDERS), logged once."""
    counter = Counter()
    sheet = spec()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    viewer = getattr(user, "pk", None)
    entitled: dict[int, bool] = {}

    def names(chunk: list[Case]) -> None:
        found = selectors.department_names([c.pk for c in chunk])
        for c in chunk:
            c.department_list = found.get(c.pk, [])

    def reveal(case: Case, name: str, value) -> bool:
        # The detail's rule: the reporter themself, the staff who registered the case, the community
        # dispatchers of its area; masked for everybody else.
        if not value:
            return False
        if case.reporter_id is not None and case.reporter_id == viewer:
            return True
        if case.pk not in entitled:
            entitled[case.pk] = selectors.calls_back(user, case)
        return entitled[case.pk]

    def log() -> None:
        pii.log_access(
            user, "export", object_type="case", ids=counter.ids, count=counter.rows,
            fields=sorted(counter.revealed), request=request,
            detail={
                "format": "xlsx", "order": order,
                "filters": {k: v for k, v in filters.items() if v not in (None, "", [])},
            },
        )  # fmt: skip

    rows = sheet.rows(qs, reveal=reveal, counter=counter, on_chunk=names, keys=selectors.ORDERS[order])
    return response(
        f"cases-{stamp}.xlsx", sheet.header, rows, file_format="xlsx", sheet=_("Cases"), before_send=log
    )
