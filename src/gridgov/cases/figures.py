"""Evaluation figures of the cases a user may see (考核指标), by the formulas the field uses.

The cohort is the visible cases created in [date_from, date_to] (dates in Asia/Shanghai), narrowed by
area, department and category like the case list. Counts are as of now:

- reported: every case of the cohort; accepted: accepted at some point; rejected: status rejected;
- due (应结案): not rejected, not merged, and closed, or with `due_at` before the end of the period (or
  before now when the period has not ended yet);
- deferred (缓办): due cases with an approved deferral (`defer`); they are out of every rate, numerator
  and denominator alike, so 按期结案率 = closed_on_time ÷ (due − deferred) and 结案率 = closed ÷ (due − deferred);
- closed: closed by `close` and not deferred (merged cases, closed as special by `merge`, are left out);
- closed_on_time: closed with no deadline or at or before `due_at`;
- reworked: closed cases verified as failed at least once (`rework_count` > 0);
- rated: with a satisfaction; satisfied: satisfaction ≥ 4;
- solved_in_community: closed cases without any step (no department was whistled or dispatched);
- merged: cases merged into another (closed as special by `merge`): in no figure, counted so that the
  screen can say so; closed_listed: every case of the cohort the case list shows as closed (status
  closed or rated: `closed` + the merged ones + the closed deferred ones), so 结案 and the list agree
  or the difference is labelled (结案 207, 另有合并 7 件 = 214 in the list).

Step figures are over the steps of the cohort (only the named department's steps with `department`).
Mean times are working hours from the timeline: whistle (or the reassign that created the step) →
report_in per step, submit → close per case."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from gridgov.cases import selectors
from gridgov.cases.models import Status, Step, TimelineEvent
from gridgov.core import worktime

RATES = (
    "on_time_close_rate",
    "close_rate",
    "rework_rate",
    "on_time_report_in_rate",
    "on_time_handling_rate",
    "satisfaction_rate",
    "community_share",
)
MEANS = ("mean_report_in_hours", "mean_resolution_hours")


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _mean_hours(seconds: list[float]) -> float | None:
    return sum(seconds) / len(seconds) / 3600 if seconds else None


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def previous_period(date_from: dt.date, date_to: dt.date) -> tuple[dt.date, dt.date]:
    """The period of equal length just before (环比)."""
    days = (date_to - date_from).days + 1
    return date_from - dt.timedelta(days=days), date_from - dt.timedelta(days=1)


def year_ago_period(date_from: dt.date, date_to: dt.date) -> tuple[dt.date, dt.date]:
    """The same period one year earlier (同比)."""
    return _year_before(date_from), _year_before(date_to)


COUNTABLE = ~Q(status=Status.REJECTED) & Q(merged_into__isnull=True)
CLOSED = COUNTABLE & Q(deferred=False, closed_at__isnull=False)  # the `closed` count


def _cohort(user, date_from, date_to, *, area_code, department_code, category_code):
    return (
        selectors.cases_for(
            user,
            area=area_code,
            department=department_code,
            category=category_code,
            created_from=date_from,
            created_to=date_to,
        )
        .select_related(None)
        .order_by()
    )


def _period_figures(user, date_from, date_to, *, area_code, department_code, category_code) -> dict:
    cases = _cohort(
        user,
        date_from,
        date_to,
        area_code=area_code,
        department_code=department_code,
        category_code=category_code,
    )
    now = timezone.now()
    end = dt.datetime.combine(
        date_to + dt.timedelta(days=1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    cutoff = min(end, now)

    due = COUNTABLE & (Q(closed_at__isnull=False) | Q(due_at__lt=cutoff))
    counts = cases.annotate(has_step=Exists(Step.objects.filter(case=OuterRef("pk")))).aggregate(
        reported=Count("pk"),
        accepted=Count("pk", filter=Q(accepted_at__isnull=False)),
        rejected=Count("pk", filter=Q(status=Status.REJECTED)),
        closed=Count("pk", filter=CLOSED),
        closed_on_time=Count("pk", filter=CLOSED & (Q(due_at__isnull=True) | Q(closed_at__lte=F("due_at")))),
        due=Count("pk", filter=due),
        deferred_due=Count("pk", filter=due & Q(deferred=True)),  # not "deferred": that is a field
        reworked=Count("pk", filter=CLOSED & Q(rework_count__gt=0)),
        rated=Count("pk", filter=Q(satisfaction__isnull=False)),
        satisfied=Count("pk", filter=Q(satisfaction__gte=4)),
        solved_in_community=Count("pk", filter=CLOSED & Q(has_step=False)),
        merged=Count("pk", filter=Q(merged_into__isnull=False)),
        closed_listed=Count("pk", filter=Q(status__in=(Status.CLOSED, Status.RATED))),
    )

    counts["deferred"] = counts.pop("deferred_due")

    steps = Step.objects.filter(case__in=cases.values("pk"))
    if department_code:
        steps = steps.filter(target__code=department_code)
    step_counts = steps.aggregate(
        reported_in=Count("pk", filter=Q(reported_in_at__isnull=False)),
        reported_in_on_time=Count("pk", filter=Q(reported_in_at__isnull=False, report_in_on_time=True)),
        handled=Count("pk", filter=Q(status="handled")),
        handled_on_time=Count("pk", filter=Q(status="handled", handled_on_time=True)),
    )
    step_ids = set(steps.values_list("pk", flat=True))
    closed_ids = set(cases.filter(CLOSED).values_list("pk", flat=True))

    report_in_seconds, resolution_seconds = _times(cases, step_ids, closed_ids)
    base = counts["due"] - counts["deferred"]
    rates = {
        "on_time_close_rate": _ratio(counts["closed_on_time"], base),
        "close_rate": _ratio(counts["closed"], base),
        "rework_rate": _ratio(counts["reworked"], counts["closed"]),
        "on_time_report_in_rate": _ratio(step_counts["reported_in_on_time"], step_counts["reported_in"]),
        "on_time_handling_rate": _ratio(step_counts["handled_on_time"], step_counts["handled"]),
        "satisfaction_rate": _ratio(counts["satisfied"], counts["rated"]),
        "community_share": _ratio(counts["solved_in_community"], counts["closed"]),
    }
    return {
        "date_from": date_from,
        "date_to": date_to,
        "counts": {**counts, **step_counts},
        "rates": rates,
        "mean_report_in_hours": _mean_hours(report_in_seconds),
        "mean_resolution_hours": _mean_hours(resolution_seconds),
    }


def _times(cases, step_ids: set[int], closed_ids: set[int]) -> tuple[list[float], list[float]]:
    """One pass over the needed timeline events: report-in and resolution working seconds."""
    events = (
        TimelineEvent.objects.filter(
            case__in=cases.values("pk"), action__in=("submit", "whistle", "reassign", "report_in", "close")
        )
        .order_by("case_id", "at", "id")
        .values_list("case_id", "action", "at", "data")
    )
    report_in: list[float] = []
    resolution: list[float] = []
    current = None
    submitted = whistled = None
    created: dict[int, dt.datetime] = {}
    for case_id, action, at, data in events.iterator():
        if case_id != current:
            current, submitted, whistled, created = case_id, None, None, {}
        if action == "submit":
            submitted = submitted or at
        elif action == "whistle":
            whistled = at
        elif action == "reassign":
            step = (data or {}).get("step")
            if step is not None:
                created[step] = at
        elif action == "report_in":
            for step in (data or {}).get("steps", []):
                start = created.get(step, whistled)
                if step in step_ids and start is not None:
                    report_in.append(worktime.working_seconds_between(start, at))
        elif action == "close" and case_id in closed_ids and submitted is not None:
            resolution.append(worktime.working_seconds_between(submitted, at))
    return report_in, resolution


def figures_for(
    user,
    *,
    date_from: dt.date,
    date_to: dt.date,
    area_code: str | None = None,
    department_code: str | None = None,
    category_code: str | None = None,
) -> dict:
    """The figures of the period, and `change`: each rate and mean for this period, the period of equal
    length before (环比) and the same period one year earlier (同比)."""
    filters = {"area_code": area_code, "department_code": department_code, "category_code": category_code}
    current = _period_figures(user, date_from, date_to, **filters)
    previous = _period_figures(user, *previous_period(date_from, date_to), **filters)
    year_ago = _period_figures(user, *year_ago_period(date_from, date_to), **filters)

    def pick(figures: dict, name: str):
        return figures[name] if name in MEANS else figures["rates"][name]

    current["change"] = {
        name: {
            "current": pick(current, name),
            "previous": pick(previous, name),
            "year_ago": pick(year_ago, name),
        }
        for name in RATES + MEANS
    }
    current["previous_period"] = {"date_from": previous["date_from"], "date_to": previous["date_to"]}
    current["year_ago_period"] = {"date_from": year_ago["date_from"], "date_to": year_ago["date_to"]}
    return current


def figures_by_area(
    user, *, date_from: dt.date, date_to: dt.date, parent_code: str, category_code: str | None = None
) -> list[dict]:
    """The figures of the period for every visible child of a visible area (drill-down: district →
    subdistricts → communities → blocks → grids), without the change columns."""
    from gridgov.territory import selectors as territory

    rows = []
    for area in territory.children(user, parent_code).filter(is_active=True):
        f = _period_figures(
            user, date_from, date_to, area_code=area.code, department_code=None, category_code=category_code
        )
        rows.append({"code": area.code, "name": area.name, "level": area.level, **f})
    return rows


def figures_by_department(
    user,
    *,
    date_from: dt.date,
    date_to: dt.date,
    area_code: str | None = None,
    category_code: str | None = None,
) -> list[dict]:
    """The figures of the period for every department that had a step on the cases the user may see
    (its report-in and handling rates count its own steps only)."""
    from gridgov.accounts.models import Organisation

    cases = selectors.cases_for(
        user, area=area_code, category=category_code, created_from=date_from, created_to=date_to
    )
    ids = Step.objects.filter(case__in=cases.values("pk")).values("target_id").distinct()
    rows = []
    for org in Organisation.objects.filter(pk__in=ids).order_by("code"):
        f = _period_figures(
            user,
            date_from,
            date_to,
            area_code=area_code,
            department_code=org.code,
            category_code=category_code,
        )
        rows.append({"code": org.code, "name": org.name, "level": org.kind, **f})
    return rows


def figures_by_day(
    user,
    *,
    date_from: dt.date,
    date_to: dt.date,
    area_code: str | None = None,
    department_code: str | None = None,
    category_code: str | None = None,
) -> list[dict]:
    """For every day of the period (Asia/Shanghai): the cohort's cases reported that day and those of them
    closed that day (`closed` as in the figures; closings after date_to fall outside). Counted in the
    database, so the whole period is counted however many cases it holds."""
    cases = _cohort(
        user,
        date_from,
        date_to,
        area_code=area_code,
        department_code=department_code,
        category_code=category_code,
    )
    tz = timezone.get_current_timezone()

    def per_day(qs, field: str) -> dict[dt.date, int]:
        rows = qs.annotate(day=TruncDate(field, tzinfo=tz)).values("day").annotate(n=Count("pk"))
        return dict(rows.values_list("day", "n"))

    reported = per_day(cases, "created_at")
    closed = per_day(cases.filter(CLOSED), "closed_at")
    days = (date_to - date_from).days + 1
    return [
        {"date": day, "reported": reported.get(day, 0), "closed": closed.get(day, 0)}
        for day in (date_from + dt.timedelta(days=i) for i in range(days))
    ]


def figures_by_category(
    user,
    *,
    date_from: dt.date,
    date_to: dt.date,
    area_code: str | None = None,
    department_code: str | None = None,
) -> list[dict]:
    """The cohort's cases per 大类 (the category's parent, or the category itself when it is a 大类):
    reported and closed, most reported first; cases not yet classified in one row with an empty code."""
    cases = _cohort(
        user, date_from, date_to, area_code=area_code, department_code=department_code, category_code=None
    )
    rows = (
        cases.annotate(
            top_code=Coalesce("category__parent__code", "category__code"),
            top_name=Coalesce("category__parent__name", "category__name"),
        )
        .values("top_code", "top_name")
        .annotate(reported=Count("pk"), closed=Count("pk", filter=CLOSED))
    )
    out = [
        {
            "code": r["top_code"] or "",
            "name": r["top_name"] or "",
            "reported": r["reported"],
            "closed": r["closed"],
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r["reported"], r["code"]))
