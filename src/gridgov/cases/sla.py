"""The deadline watch (时限预警): a periodic sweep over open cases that raises each warning once.

For every open case (not closed, rated or rejected; not suspended) three kinds of deadline are
watched, in working time (`core.worktime.warning_level`: yellow at 80 % used, red once passed):

    the case's resolution deadline      `Case.due_at`, counted from acceptance
    each step's report-in deadline      `Step.report_in_due_at`, while the step waits for report-in
    each step's completion deadline     `Step.due_at`, while the step is not handled

The level last raised is kept on the row (`Case.warning_level`, `Step.report_in_warning`,
`Step.warning_level`). When a level rises (none → yellow, none/yellow → red) the sweep writes one
timeline event `deadline_warning` and a notification to each person who must act:

    a step deadline   the department handlers (and partner handlers) of the step's target organisation
    the case deadline the community staff of the case's community, and the staff of the current holder
                      area when the case was escalated above it

When a step's report-in deadline passes without a report-in (its level turns red), the dispatchers who
whistled and those of the current holder are told too (kind `report_in_due`, cases/notices.py): they
must urge the department, issue a supervision card or reassign. Once per step: the red level is kept
on the step, so a second sweep sends nothing.

A red step deadline sets the step's `overdue` flag. When a level falls (deadlines moved by `resume`)
it is lowered silently, so the next rise is raised again.

Cost: one query (with the open steps prefetched) reads the candidates; the recipients of every
case with something to raise come from one membership query; each such case is then re-read under
its row lock and written in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.cases import notices
from gridgov.cases.models import (
    OPEN_STATUSES,
    OPEN_STEP_STATUSES,
    Case,
    NotificationKind,
    Step,
    StepStatus,
    TimelineEvent,
    WarningLevel,
)
from gridgov.core import notifications, timeline, worktime
from gridgov.territory import paths as area_paths

RANK = {WarningLevel.NONE: 0, WarningLevel.YELLOW: 1, WarningLevel.RED: 2}
STEP_ROLES = (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)
HOLDER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)
MESSAGE_LANGUAGE = "zh-hans"  # the timeline note of a warning is written in the default language
CHUNK = 500


@dataclass
class Watch:
    deadline: str  # "report_in" | "resolution"
    step: Step | None  # None: the case's own deadline
    field: str  # the field keeping the level on the case or step
    due: dt.datetime
    old: str
    new: str

    @property
    def rises(self) -> bool:
        return RANK[self.new] > RANK[self.old]


def _level(start, due, now) -> str:
    return worktime.warning_level(start or due, due, now)


def watches(case: Case, steps: list[Step], now: dt.datetime) -> list[Watch]:
    """The deadlines of a case whose level differs from the one last raised."""
    found = []
    if case.due_at is not None:
        start = case.accepted_at or case.created_at
        found.append(
            Watch(
                "resolution",
                None,
                "warning_level",
                case.due_at,
                case.warning_level,
                _level(start, case.due_at, now),
            )
        )
    for s in steps:
        if s.status == StepStatus.PENDING_REPORT_IN and s.report_in_due_at is not None:
            level = _level(s.created_at, s.report_in_due_at, now)
            found.append(
                Watch("report_in", s, "report_in_warning", s.report_in_due_at, s.report_in_warning, level)
            )
        if s.status in OPEN_STEP_STATUSES and s.due_at is not None:
            level = _level(s.created_at, s.due_at, now)
            found.append(Watch("resolution", s, "warning_level", s.due_at, s.warning_level, level))
    return [w for w in found if w.new != w.old]


def _open_steps() -> Prefetch:
    return Prefetch(
        "steps",
        queryset=Step.objects.filter(status__in=OPEN_STEP_STATUSES),
        to_attr="open_steps",
    )


def _candidates():
    return (
        Case.objects.filter(status__in=OPEN_STATUSES, suspended=False)
        .select_related("area")
        .prefetch_related(_open_steps())
        .order_by("pk")
    )


class Recipients:
    """Who is told, loaded once for many cases: handlers per organisation, community staff per
    community path, holder-area staff per area."""

    def __init__(self) -> None:
        self.by_org: dict[int, set[int]] = defaultdict(set)
        self.by_community: dict[str, set[int]] = defaultdict(set)
        self.by_area: dict[int, set[int]] = defaultdict(set)
        self._orgs: set[int] = set()
        self._paths: set[str] = set()
        self._areas: set[int] = set()

    def load(self, org_ids=(), paths=(), area_ids=()) -> None:
        orgs = set(org_ids) - self._orgs
        paths = set(paths) - self._paths
        areas = set(area_ids) - self._areas
        if not (orgs or paths or areas):
            return
        q = Q(pk__in=[])
        if orgs:
            q |= Q(role__in=STEP_ROLES, organisation_id__in=orgs)
        if paths:
            q |= Q(role=Role.COMMUNITY_STAFF, area__level="community", area__path__in=paths)
        if areas:
            q |= Q(role__in=HOLDER_ROLES, area_id__in=areas)
        rows = Membership.objects.filter(q, user__is_active=True).values_list(
            "role", "user_id", "organisation_id", "area_id", "area__path", "area__level"
        )
        for role, user_id, org_id, area_id, path, level in rows:
            if role in STEP_ROLES and org_id in orgs:
                self.by_org[org_id].add(user_id)
            if role == Role.COMMUNITY_STAFF and level == "community" and path in paths:
                self.by_community[path].add(user_id)
            if role in HOLDER_ROLES and area_id in areas:
                self.by_area[area_id].add(user_id)
        self._orgs |= orgs
        self._paths |= paths
        self._areas |= areas

    def keys_for(self, case: Case, found: list[Watch]) -> tuple[set[int], set[str], set[int]]:
        orgs = {w.step.target_id for w in found if w.step is not None}
        areas: set[int] = set()
        for w in found:
            if _report_in_due(w):
                areas |= {w.step.source_area_id, case.holder_area_id} - {None}
        if any(w.step is None for w in found):
            areas |= {case.holder_area_id} - {None}
            return orgs, set(area_paths.ancestor_paths(case.area.path)), areas
        return orgs, set(), areas

    def dispatchers(self, case: Case, step: Step) -> set[int]:
        """The dispatchers who whistled the step and those of the case's current holder."""
        areas = [a for a in (step.source_area_id, case.holder_area_id) if a is not None]
        self.load(area_ids=areas)
        return set().union(*(self.by_area[a] for a in areas)) if areas else set()

    def for_watch(self, case: Case, w: Watch) -> set[int]:
        if w.step is not None:
            self.load(org_ids=[w.step.target_id])
            return set(self.by_org[w.step.target_id])
        paths = area_paths.ancestor_paths(case.area.path)
        areas = [case.holder_area_id] if case.holder_area_id else []
        self.load(paths=paths, area_ids=areas)
        users = set().union(*(self.by_community[p] for p in paths))
        for a in areas:
            users |= self.by_area[a]
        return users


def _report_in_due(w: Watch) -> bool:
    """A step's report-in deadline turning red: the dispatchers are told too (`report_in_due`)."""
    return w.deadline == "report_in" and w.step is not None and w.new == WarningLevel.RED and w.rises


def _local(when: dt.datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M")


def facts_of(case: Case, w: Watch) -> dict:
    """What a deadline warning says, as the facts of its notification (and its timeline data)."""
    return {
        "level": w.new,
        "deadline": w.deadline,
        "step_id": w.step.pk if w.step is not None else None,
        "due_at": w.due.isoformat(),
        "number": case.number,
        "due": _local(w.due),
        "department": w.step.target.name if w.step is not None else "",
    }


def deadline_text(facts: dict) -> str:
    """The text of a deadline warning (notification kinds deadline_yellow / deadline_red), in the
    current language."""
    red = facts["level"] == WarningLevel.RED
    if facts["deadline"] == "report_in":
        if red:
            return (
                _("Case %(number)s: %(department)s has not reported in; the deadline %(due)s has passed.")
                % facts
            )
        return (
            _("Case %(number)s: %(department)s must report in by %(due)s (80%% of the time is used).") % facts
        )
    if facts.get("step_id") is not None:
        if red:
            return (
                _("Case %(number)s: %(department)s has not finished; the deadline %(due)s has passed.")
                % facts
            )
        return _("Case %(number)s: %(department)s must finish by %(due)s (80%% of the time is used).") % facts
    if red:
        return _("Case %(number)s is overdue: it was due by %(due)s.") % facts
    return _("Case %(number)s must be resolved by %(due)s (80%% of the time is used).") % facts


def message(case: Case, w: Watch) -> str:
    """The notification text, in the current language."""
    return deadline_text(facts_of(case, w))


def _apply(case_id: int, now: dt.datetime, recipients: Recipients, counts: Counter) -> None:
    """Re-read one case under its row lock, then raise (or lower) its levels in one transaction."""
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("area")
            .filter(pk=case_id, status__in=OPEN_STATUSES, suspended=False)
            .first()
        )
        if case is None:
            return
        steps = list(Step.objects.filter(case=case, status__in=OPEN_STEP_STATUSES).select_related("target"))
        found = watches(case, steps, now)
        notes: list[notifications.Notice] = []
        for w in found:
            row = w.step if w.step is not None else case
            setattr(row, w.field, w.new)
            changes = {w.field: w.new}
            if w.step is not None and w.new == WarningLevel.RED and not w.step.overdue:
                w.step.overdue = True
                changes["overdue"] = True
            type(row).objects.filter(pk=row.pk).update(**changes)
            if not w.rises:
                counts["lowered"] += 1
                continue
            counts[w.new] += 1
            facts = facts_of(case, w)
            with translation.override(MESSAGE_LANGUAGE):
                text = deadline_text(facts)
            data = {k: facts[k] for k in ("level", "deadline", "step_id", "due_at")}
            timeline.record(
                TimelineEvent,
                case=case,
                at=now,
                actor=None,
                action="deadline_warning",
                from_status=case.status,
                to_status=case.status,
                note=text,
                data=data,
            )
            kind = (
                NotificationKind.DEADLINE_RED
                if w.new == WarningLevel.RED
                else NotificationKind.DEADLINE_YELLOW
            )
            notes.extend(
                notifications.Notice(u, kind, facts, case, created_at=now)
                for u in sorted(recipients.for_watch(case, w))
            )
            if _report_in_due(w):
                notes.extend(notices.report_in_due(case, w.step, recipients.dispatchers(case, w.step), now))
        if notes:
            notifications.notify_many(notes)
            counts["notifications"] += len(notes)


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Raise the deadline warnings due at `now` (default: the current time). Returns counts:
    cases checked, warnings raised per level, levels lowered, notifications written."""
    now = now or timezone.now()
    counts: Counter = Counter(cases=0, yellow=0, red=0, lowered=0, notifications=0)
    pending: list[int] = []
    recipients = Recipients()
    orgs: set[int] = set()
    paths: set[str] = set()
    areas: set[int] = set()
    for case in _candidates().iterator(chunk_size=CHUNK):
        counts["cases"] += 1
        found = watches(case, case.open_steps, now)
        if not found:
            continue
        pending.append(case.pk)
        o, p, a = recipients.keys_for(case, [w for w in found if w.rises])
        orgs |= o
        paths |= p
        areas |= a
    recipients.load(org_ids=orgs, paths=paths, area_ids=areas)
    for case_id in pending:
        _apply(case_id, now, recipients, counts)
    return dict(counts)
