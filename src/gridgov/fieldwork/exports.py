"""The Excel export of plan vs done (core/tabular/export.py: formula-safe cells, Chinese headers)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from gridgov.core.tabular import export
from gridgov.fieldwork import selectors


def plan_vs_done_xlsx(user, *, area_code: str, date_from: dt.date, date_to: dt.date):
    rows = selectors.plan_vs_done(user, area_code=area_code, date_from=date_from, date_to=date_to)
    header = [
        _("Person"), _("Role"), _("Area code"), _("Area"), _("Cadence"), _("Patrols planned"), _("Patrols done"),
        _("Patrol days"), _("Hours planned"), _("Hours done"), _("Findings"), _("Behind plan"),
    ]  # fmt: skip
    cadence = {"daily": _("Every working day"), "weekly": _("Once a week"), "per_week": _("Times per week")}
    role = {"grid_worker": _("Grid worker"), "block_chief": _("Block chief")}
    data = [
        [
            r["name"],
            role.get(r["role"], r["role"]),
            r["area_code"],
            r["area_name"],
            cadence[r["cadence"]] + (f" ×{r['per_week']}" if r["cadence"] == "per_week" else ""),
            r["patrols_planned"],
            r["patrols_done"],
            r["days_done"],
            r["hours_planned"],
            r["hours_done"],
            r["findings"],
            _("Yes") if r["behind"] else _("No"),
        ]  # fmt: skip
        for r in rows
    ]
    name = f"plan-vs-done-{date_from.isoformat()}-{date_to.isoformat()}.xlsx"
    return export.response(name, header, data, file_format="xlsx", sheet=_("Plan vs done"))
