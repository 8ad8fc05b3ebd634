"""Reads of field work, narrowed to what the user may see: sessions and plans of areas in the user's
registry scope (a grid worker: their grid; a block chief: their block; community and subdistrict staff:
their subtree). Plans are resolved per person and period (a plan row of the area for the person or their
role, else the defaults); coverage and plan vs done are computed here. See docs/fieldwork.md."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.core import worktime
from gridgov.core.errors import FieldErrors, NotFound
from gridgov.core.principal import minimal_prefixes, principal_for
from gridgov.fieldwork import tracks
from gridgov.fieldwork.models import Cadence, PatrolPlan, PatrolSession, SessionStatus
from gridgov.registry.selectors import READER_ROLES, registry_filter
from gridgov.territory.models import Area, Building, Level

# Without a plan row: grid workers patrol their grid every working day, block chiefs their block weekly.
DEFAULT_PLANS: dict[str, tuple[str, str, int, int]] = {
    Role.GRID_WORKER: (Level.GRID, Cadence.DAILY, 1, 30),
    Role.BLOCK_CHIEF: (Level.BLOCK, Cadence.WEEKLY, 1, 60),
}
COVERAGE_RADIUS_M = 30.0


def nothing() -> NotFound:
    return NotFound(_("Nothing here, or it is outside your area."))


def sessions_for(user) -> QuerySet[PatrolSession]:
    q = registry_filter(user, "area__path")
    if q is None:
        return PatrolSession.objects.none()
    return PatrolSession.objects.filter(q)


def session_list(
    user,
    *,
    mine: bool = False,
    area_code: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[PatrolSession]:
    qs = sessions_for(user).select_related("patroller", "area")
    if mine:
        qs = qs.filter(patroller=user)
    if area_code:
        area = Area.objects.filter(code=area_code).first()
        qs = qs.filter(area__path__startswith=area.path) if area else qs.none()
    if date_from:
        qs = qs.filter(started_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(started_at__date__lte=date_to)
    return qs.order_by("-started_at", "-id")


def session_detail(user, session_id: int) -> PatrolSession:
    session = (
        sessions_for(user)
        .select_related("patroller", "area", "plan")
        .prefetch_related("findings__case")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise nothing()
    return session


def plans_for(user) -> QuerySet[PatrolPlan]:
    q = registry_filter(user, "area__path")
    if q is None:
        return PatrolPlan.objects.none()
    return PatrolPlan.objects.filter(q, is_active=True).select_related("area", "assignee")


def scope_area(user, area_code: str = "") -> list[Area]:
    """The areas the user looks at: the one named (inside their scope: else 404), or their own roots."""
    q = registry_filter(user, "path")
    if q is None:
        if area_code:
            raise nothing()
        return []
    if area_code:
        area = Area.objects.filter(q, code=area_code).first()
        if area is None:
            raise nothing()
        return [area]
    own = {m.area_path for m in principal_for(user).memberships if m.role in READER_ROLES and m.area_id}
    return list(Area.objects.filter(path__in=minimal_prefixes(own)))


def scope_area_or_none(user, area_code: str) -> Area | None:
    q = registry_filter(user, "path")
    return Area.objects.filter(q, code=area_code).first() if q is not None else None


# --- plans resolved ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolved:
    user_id: int
    role: str
    area: Area
    cadence: str
    per_week: int
    min_minutes: int
    plan_id: int | None
    valid_from: dt.date | None
    valid_to: dt.date | None


def resolve(memberships: list[tuple[int, str, Area]], date_from: dt.date, date_to: dt.date) -> list[Resolved]:
    """Each (user, role, area) membership's plan over the period: the user's own plan row on the area,
    else the role's plan row on the area, else the role's default (DEFAULT_PLANS)."""
    area_ids = {a.pk for _u, _r, a in memberships}
    rows = PatrolPlan.objects.filter(is_active=True, area_id__in=area_ids, valid_from__lte=date_to).exclude(
        valid_to__lt=date_from
    )
    own: dict[tuple[int, int], PatrolPlan] = {}
    by_role: dict[tuple[str, int], PatrolPlan] = {}
    for p in rows.order_by("valid_from", "id"):
        if p.assignee_id:
            own[(p.assignee_id, p.area_id)] = p
        else:
            by_role[(p.role, p.area_id)] = p
    out = []
    for user_id, role, area in memberships:
        plan = own.get((user_id, area.pk)) or by_role.get((role, area.pk))
        if plan is not None:
            out.append(
                Resolved(user_id, role, area, plan.cadence, plan.per_week, plan.min_minutes, plan.pk,
                         plan.valid_from, plan.valid_to)
            )  # fmt: skip
        elif role in DEFAULT_PLANS and DEFAULT_PLANS[role][0] == area.level:
            _level, cadence, per_week, minutes = DEFAULT_PLANS[role]
            out.append(Resolved(user_id, role, area, cadence, per_week, minutes, None, None, None))
    return out


def patrollers_under(areas: list[Area]) -> list[tuple[int, str, Area]]:
    """(user, role, area) of every patroller membership in the areas' subtrees."""
    if not areas:
        return []
    from django.db.models import Q

    q = Q(pk__in=[])
    for a in areas:
        q |= Q(area__path__startswith=a.path)
    rows = Membership.objects.filter(q, role__in=list(DEFAULT_PLANS), user__is_active=True).select_related(
        "area"
    )
    found = {(m.user_id, m.role, m.area) for m in rows if m.area is not None}
    return sorted(found, key=lambda r: (r[2].path, r[1], r[0]))


def plans_of(user, date_from: dt.date, date_to: dt.date) -> list[Resolved]:
    """The plans a person patrols by over the period."""
    rows = Membership.objects.filter(user=user, role__in=list(DEFAULT_PLANS)).select_related("area")
    return resolve([(m.user_id, m.role, m.area) for m in rows if m.area is not None], date_from, date_to)


def plan_for(user, area: Area, on: dt.date) -> Resolved | None:
    return next((r for r in plans_of(user, on, on) if r.area.pk == area.pk), None)


# --- plan vs done -----------------------------------------------------------------------------------------
def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _days(date_from: dt.date, date_to: dt.date):
    d = date_from
    while d <= date_to:
        yield d
        d += dt.timedelta(days=1)


def _window(r: Resolved, date_from: dt.date, date_to: dt.date) -> tuple[dt.date, dt.date]:
    return max(date_from, r.valid_from or date_from), min(date_to, r.valid_to or date_to)


def planned_units(r: Resolved, date_from: dt.date, date_to: dt.date) -> list[tuple[dt.date, int]]:
    """The plan's units over the period: (working day, 1) for a daily plan; (Monday, n) for each ISO week
    touching the period for a weekly plan (a week counts whole where it overlaps the period)."""
    lo, hi = _window(r, date_from, date_to)
    if lo > hi:
        return []
    if r.cadence == Cadence.DAILY:
        return [(d, 1) for d in _days(lo, hi) if worktime.is_workday(d)]
    n = 1 if r.cadence == Cadence.WEEKLY else r.per_week
    return [(m, n) for m in sorted({_monday(d) for d in _days(lo, hi)})]


MAX_PERIOD_DAYS = 366


def check_period(date_from: dt.date, date_to: dt.date) -> None:
    errors = FieldErrors()
    if date_to < date_from:
        errors.add("date_to", _("The end lies before the start."))
    elif (date_to - date_from).days >= MAX_PERIOD_DAYS:
        errors.add("date_to", _("Choose a period of at most %(n)s days.") % {"n": MAX_PERIOD_DAYS})
    errors.raise_if_any()


def _local_date(t: dt.datetime) -> dt.date:
    return timezone.localtime(t).date()


def plan_vs_done(user, *, area_code: str = "", date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    """Per person and plan over the period: patrols planned and done (a patrol counts when it lasts the
    plan's minimum minutes; a weekly plan's week counts at most n), patrol days, hours, findings."""
    check_period(date_from, date_to)
    areas = scope_area(user, area_code)
    resolved = resolve(patrollers_under(areas), date_from, date_to)
    if not resolved:
        return []
    lo = min(date_from, _monday(date_from))
    hi = date_to + dt.timedelta(days=6)
    sessions = PatrolSession.objects.filter(
        status=SessionStatus.ENDED,
        patroller_id__in={r.user_id for r in resolved},
        started_at__date__gte=lo,
        started_at__date__lte=hi,
    ).values("patroller_id", "area_id", "started_at", "ended_at", "findings_count")
    per: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for row in sessions:
        per[(row["patroller_id"], row["area_id"])].append(dict(row))
    from gridgov.accounts.models import User

    names = {
        u.pk: (u.display_name or u.username)
        for u in User.objects.filter(pk__in={r.user_id for r in resolved})
    }
    rows = []
    for r in resolved:
        units = planned_units(r, date_from, date_to)
        mine = per.get((r.user_id, r.area.pk), [])
        qualifying = [
            s for s in mine if (s["ended_at"] - s["started_at"]).total_seconds() >= r.min_minutes * 60
        ]
        in_period = [s for s in mine if date_from <= _local_date(s["started_at"]) <= date_to]
        q_days = sorted({_local_date(s["started_at"]) for s in qualifying})
        if r.cadence == Cadence.DAILY:
            planned_set = {d for d, _n in units}
            done = sum(1 for d in q_days if d in planned_set)
        else:
            per_week: dict[dt.date, int] = defaultdict(int)
            for s in qualifying:
                per_week[_monday(_local_date(s["started_at"]))] += 1
            done = sum(min(n, per_week.get(m, 0)) for m, n in units)
        planned = sum(n for _d, n in units)
        rows.append(
            {
                "user_id": r.user_id,
                "name": names.get(r.user_id, ""),
                "role": r.role,
                "area_code": r.area.code,
                "area_name": r.area.name,
                "cadence": r.cadence,
                "per_week": r.per_week,
                "min_minutes": r.min_minutes,
                "plan_id": r.plan_id,
                "patrols_planned": planned,
                "patrols_done": done,
                "days_done": len([d for d in q_days if date_from <= d <= date_to]),
                "hours_planned": round(planned * r.min_minutes / 60, 1),
                "hours_done": round(
                    sum((s["ended_at"] - s["started_at"]).total_seconds() for s in in_period) / 3600, 1
                ),
                "findings": sum(s["findings_count"] for s in in_period),
                "behind": done < planned,
            }
        )
    return rows


def overdue(user, *, area_code: str = "", today: dt.date | None = None) -> list[dict[str, Any]]:
    """Who has not patrolled per their plan in the last complete unit: a daily plan's last working day
    before today, a weekly plan's last complete ISO week; with the day of their last patrol."""
    today = today or timezone.localdate()
    last_day = today - dt.timedelta(days=1)
    while not worktime.is_workday(last_day):
        last_day -= dt.timedelta(days=1)
    last_monday = _monday(today) - dt.timedelta(days=7)
    units = {True: (last_day, last_day), False: (last_monday, last_monday + dt.timedelta(days=6))}
    out = []
    for daily, (lo, hi) in units.items():
        for row in plan_vs_done(user, area_code=area_code, date_from=lo, date_to=hi):
            if (row["cadence"] == Cadence.DAILY) == daily and row["behind"]:
                out.append({**row, "unit_from": lo, "unit_to": hi, "planned": row["patrols_planned"],
                            "done": row["patrols_done"]})  # fmt: skip
    if not out:
        return []
    last = {
        (r["patroller_id"], r["area__code"]): r["last"]
        for r in PatrolSession.objects.filter(
            status=SessionStatus.ENDED, patroller_id__in={o["user_id"] for o in out}
        )
        .values("patroller_id", "area__code")
        .annotate(last=Max("started_at"))
        .order_by()
    }
    for o in out:
        at = last.get((o["user_id"], o["area_code"]))
        o["last_patrol"] = _local_date(at) if at else None
    return sorted(out, key=lambda o: (o["area_code"], o["user_id"]))


# --- coverage ---------------------------------------------------------------------------------------------
def coverage(user, *, area_code: str = "", week: dt.date) -> list[dict[str, Any]]:
    """Per grid in the scope and ISO week: the share of the grid's buildings within 30 m of some track
    segment of that week (tracks of the grid's own sessions and of its block's and community's)."""
    monday = _monday(week)
    areas = scope_area(user, area_code)
    grids: list[Area] = []
    for a in areas:
        grids += list(Area.objects.filter(path__startswith=a.path, level=Level.GRID, is_active=True))
    grids = sorted({g.pk: g for g in grids}.values(), key=lambda g: g.path)
    if not grids:
        return []
    sessions = list(
        PatrolSession.objects.filter(
            started_at__date__gte=monday, started_at__date__lte=monday + dt.timedelta(days=6)
        )
        .exclude(track="")
        .values_list("area__path", "track")
    )
    buildings: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for grid_id, lng, lat in Building.objects.filter(grid__in=grids).values_list("grid_id", "lng", "lat"):
        buildings[grid_id].append((lng, lat))
    out = []
    for g in grids:
        lines = [
            line
            for path, text in sessions
            if g.path.startswith(path) or path.startswith(g.path)
            for line in tracks.lines_of(text)
        ]
        here = buildings.get(g.pk, [])
        covered = tracks.coverage(here, lines, COVERAGE_RADIUS_M)
        out.append(
            {
                "area_code": g.code,
                "area_name": g.name,
                "week": monday,
                "buildings": len(here),
                "covered": covered,
                "share": round(covered / len(here), 4) if here else None,
            }
        )
    return out
