"""The demo's case history: `days` (90) days of residents' demands and cases in the demo district, each
living through the closed loop the way the workflow (`cases/workflow.py`) lets it, with realistic
outcomes: most handled on time, some late, reworked after a failed check, escalated, returned,
merged into an earlier report, suspended, deferred (缓办), rated low.

Speed matters (the district scale has ~9,000 cases and ~80,000 timeline events), so the lives are
simulated in memory and written with `bulk_create`; the same rules as the services hold — every move
is a transition of the table by a user the table allows, deadlines are working time from the
holiday calendar, each case's fields, steps and timeline agree (tests check both, and recompute every
figure from the raw timeline). Cases still open at the end are left at their stage; the real deadline
sweep (`cases/sla.py`) then raises their warnings and notifications.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone, translation

from gridgov.accounts.models import Membership, Organisation
from gridgov.accounts.roles import Role
from gridgov.cases import sla
from gridgov.cases.models import (
    UNSATISFIED_MAX,
    Case,
    CaseKind,
    Category,
    Channel,
    ClosingType,
    FollowUp,
    Status,
    Step,
    StepKind,
    StepStatus,
    Supervision,
    TimelineEvent,
    VisitMethod,
    WarningLevel,
    WhistleItem,
    merged_phone,
    seal_merged_phone,
)
from gridgov.cases.sla import MESSAGE_LANGUAGE
from gridgov.core import notifications, timeline, worktime
from gridgov.demo import case_texts as texts
from gridgov.territory.models import Area, Building

CASES_PER_1000_HOUSEHOLDS_PER_DAY = 1.0
# The newest reports, made within the last hour, still wait for a dispatcher, so the to-accept queue has
# cases whatever the hour the demo is generated at (without them, at midday on a working day it is often
# empty: about one report of the last two hours would still be waiting).
FRESH_REPORTS = 3
S = Status

# channel → share of reports
CHANNELS = (
    (Channel.RESIDENT_APP, 0.34),
    (Channel.PATROL, 0.30),
    (Channel.HOTLINE, 0.15),
    (Channel.WINDOW, 0.07),
    (Channel.BUILDING_HEAD, 0.09),
    (Channel.DEVICE, 0.05),
)
# How each channel writes (case_texts styles): residents and building heads in their own words, a
# hotline or window clerk in the third person, a grid worker or a device tersely.
STYLE_OF_CHANNEL = {
    Channel.RESIDENT_APP: texts.RESIDENT,
    Channel.BUILDING_HEAD: texts.RESIDENT,
    Channel.HOTLINE: texts.HOTLINE,
    Channel.WINDOW: texts.HOTLINE,
    Channel.PATROL: texts.PATROL,
    Channel.DEVICE: texts.PATROL,
}
# Frequent kinds of problem (prefixes of category codes) and their weight; others weigh 1.
CATEGORY_WEIGHTS = {"E01": 3.0, "E05": 3.0, "G": 1.6, "C03": 1.5, "C01": 1.2}
HOURS_OF_REPORTS = [0.2] * 7 + [
    1.0,
    2.0,
    2.5,
    2.5,
    2.0,
    1.5,
    1.5,
    2.0,
    2.2,
    2.2,
    2.0,
    1.8,
    1.8,
    1.6,
    1.2,
    0.8,
    0.4,
]


@dataclass
class Probabilities:
    reject: float = 0.04
    merge: float = 0.05  # of reports that have an open case of the same category nearby
    community: float = 0.35  # handled by the community itself
    escalate: float = 0.06
    two_departments: float = 0.10
    whistle_item: float = 0.45
    return_step: float = 0.03
    report_in_late: float = 0.10
    handle_late: float = 0.14
    supervise_when_late: float = 0.5
    suspend: float = 0.02
    defer: float = 0.02
    rework: float = 0.09
    rated: float = 0.65
    progress_note: float = 0.3
    # The return visit (回访) by staff: 电话 mostly, 上门 for the rest; some attempts reach nobody (联系不上)
    # and are tried again a day or two later (the next try more often at the door), up to three times.
    home_visit: float = 0.2
    unreached: float = 0.08
    door_after_unreached: float = 0.4


P = Probabilities()


# --- the people of the district ----------------------------------------------------------------------
@dataclass
class Cast:
    admin: int
    staff: dict[int, list[int]]  # area id (community, subdistrict) → staff user ids
    grid_worker: dict[int, int]
    building_head: dict[int, int]
    residents: dict[int, list[int]]  # community id → resident user ids
    handler: dict[int, int]  # organisation id → handler user id
    names: dict[int, tuple[str, str]]  # user id → (display name, phone)

    @classmethod
    def load(cls, communities: dict[int, Area]) -> Cast:
        staff, residents = defaultdict(list), defaultdict(list)
        grid_worker, building_head, handler = {}, {}, {}
        admin = None
        rows = Membership.objects.filter(user__is_active=True).values_list(
            "role", "user_id", "area_id", "organisation_id", "user__username"
        )
        for role, user_id, area_id, org_id, username in rows.order_by("user__username"):
            if role == Role.ADMIN and admin is None:
                admin = user_id
            elif role in (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF) and area_id:
                staff[area_id].append(user_id)
            elif role == Role.GRID_WORKER and area_id:
                grid_worker.setdefault(area_id, user_id)
            elif role == Role.BUILDING_HEAD and area_id:
                building_head.setdefault(area_id, user_id)
            elif role in (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG) and org_id:
                handler.setdefault(org_id, user_id)
            elif role == Role.RESIDENT:
                code = username.split("-")[1] if "-" in username else ""
                community = next((c for c in communities.values() if c.code == code), None)
                if community is not None:
                    residents[community.pk].append(user_id)
        from gridgov.accounts.models import User

        names = {
            u.pk: (u.display_name, u.phone) for u in User.objects.only("display_name", "phone_enc", "pii_key")
        }
        return cls(admin, dict(staff), grid_worker, building_head, dict(residents), handler, names)


# --- one simulated case ---------------------------------------------------------------------------------
@dataclass
class Ev:
    at: dt.datetime
    actor: int | None
    action: str
    from_status: str
    to_status: str
    note: str = ""
    data: dict = field(default_factory=dict)
    step_refs: dict = field(default_factory=dict)  # data key → list of step indexes (pks filled in later)
    watch: tuple | None = None  # deadline warnings: (deadline, step index | None, due, level)


@dataclass
class Life:
    case: Case
    code: str  # category code
    community: Area
    steps: list[Step] = field(default_factory=list)
    events: list[Ev] = field(default_factory=list)
    status: str = ""
    moves: int = 0
    merged_reporter_ids: list[int] = field(default_factory=list)
    fresh: bool = False  # one of the newest reports, still waiting for a dispatcher

    def ev(self, at, actor, action, to=None, note="", data=None, steps=None, move=True) -> Ev:
        before = self.status
        if to is not None:
            self.status = to
        e = Ev(at, actor, action, before, self.status, note, data or {}, steps or {})
        self.events.append(e)
        if move:
            self.moves += 1
        return e

    def status_at(self, when: dt.datetime) -> str:
        """The status after the latest event at or before `when` (events are not kept in time order)."""
        latest = None
        for e in self.events:
            if e.at <= when and (latest is None or e.at >= latest.at):
                latest = e
        return latest.to_status if latest is not None else ""


def _later(at: dt.datetime, hours: float) -> dt.datetime:
    return worktime.add_working_time(at, max(hours, 0.0), "hours")


def _at_share(start: dt.datetime, due: dt.datetime, share: float) -> dt.datetime:
    """The moment at which `share` of the working time from start to due is used (share may be > 1)."""
    total = worktime.working_seconds_between(start, due)
    return worktime.add_working_time(start, max(total * share, 0.0) / 3600.0, "hours")


class Simulator:
    def __init__(self, *, rng: random.Random, now: dt.datetime, cast: Cast, ctx: dict):
        self.rng = rng
        self.now = now
        self.cast = cast
        self.categories: dict[str, Category] = ctx["categories"]
        self.items_by_department: dict[str, list[WhistleItem]] = ctx["items_by_department"]
        self.orgs: dict[str, Organisation] = ctx["orgs"]
        self.departments: list[Organisation] = ctx["departments"]
        self.open_by_key: dict[tuple[int, str], list[Life]] = defaultdict(list)
        self.watches: list[tuple[Life, Ev]] = []

    # people
    def staff(self, area: Area) -> int:
        return self.rng.choice(self.cast.staff[area.pk])

    def worker(self, life: Life) -> int:
        return self.cast.grid_worker[life.case.grid_id]

    # deadlines
    def _limits(self, item: WhistleItem | None, category: Category):
        src = item or category
        return (src.report_in_limit, src.report_in_unit), (src.resolution_limit, src.resolution_unit)

    def warnings(self, life: Life, deadline: str, step: int | None, start, due, end) -> str:
        """Warning events a 5-minute sweep would have written for a deadline watched from `start` until
        `end`: yellow at 80 % of the working time, red at the deadline. Returns the last level."""
        level = WarningLevel.NONE
        if due is None or start is None or end > self.now:
            return level  # still watched now: the real sweep raises it at the end
        yellow = _at_share(start, due, 0.8)
        for at, new in ((yellow, WarningLevel.YELLOW), (due, WarningLevel.RED)):
            if at < end:
                swept = min(at + dt.timedelta(minutes=self.rng.randint(0, 4)), end - dt.timedelta(seconds=1))
                status = life.status_at(swept)
                e = life.ev(swept, None, "deadline_warning", move=False)
                e.from_status = e.to_status = status
                e.watch = (deadline, step, due, new)
                e.data = {"level": new, "deadline": deadline, "step_id": None, "due_at": due.isoformat()}
                if step is not None:
                    e.step_refs = {"step_id": step}
                self.watches.append((life, e))
                level = new
        return level

    # the life of one case
    def live(self, life: Life) -> None:
        rng, c = self.rng, life.case
        category = self.categories[life.code]
        reporter_actor = c.created_by_id
        life.ev(
            c.created_at,
            reporter_actor,
            "submit",
            to=S.SUBMITTED,
            data={"channel": c.channel, "grid": c.grid.code, "area": c.area.code},
            move=False,
        )
        t = _later(c.created_at, rng.uniform(0.1, 2.5))
        if t > self.now or life.fresh:
            return
        staff = self.staff(life.community)
        if rng.random() < P.reject:
            reason = texts.reject_reason(rng)
            c.closed_at = t
            life.ev(t, staff, "reject", to=S.REJECTED, note=reason, data={"reason": reason, "informed": {}})
            return
        key = (life.community.pk, life.code)
        target = self._merge_target(key, t)
        if target is not None and rng.random() < P.merge * 6:
            self._merge(life, target, t, staff)
            return
        c.category = category
        c.accepted_at = t
        c.due_at = worktime.add_working_time(t, category.resolution_limit, category.resolution_unit)
        life.ev(
            t, staff, "accept", to=S.ACCEPTED, data={"category": life.code, "due_at": c.due_at.isoformat()}
        )
        self.open_by_key[key].append(life)
        if rng.random() < P.community or not category.department_code:
            self._community(life, t, staff)
        else:
            self._departments(life, t, staff)

    def _merge_target(self, key, t) -> Life | None:
        for other in reversed(self.open_by_key[key]):
            if t - other.case.created_at > dt.timedelta(hours=72):
                break
            if other.status_at(t) in (S.ACCEPTED, S.COMMUNITY_HANDLING, S.WHISTLED, S.IN_PROGRESS):
                return other
        return None

    def _merge(self, life: Life, target: Life, t, staff) -> None:
        c = life.case
        c.merged_into = target.case
        c.closing_type = ClosingType.SPECIAL
        c.closed_at = t
        target.case.merged_reporters = [
            *target.case.merged_reporters,
            {
                "case": c,
                "reporter_id": c.reporter_id,
                "name": c.reporter_name,
                "phone_sealed": seal_merged_phone(c.reporter_phone),
            },
        ]
        target.moves += 1
        status = target.status_at(t)
        e = target.ev(t, staff, "merge_in", data={"case": c}, move=False)
        e.from_status = e.to_status = status
        target.events.sort(key=lambda x: x.at)
        life.ev(t, staff, "merge", to=S.CLOSED, data={"target": target.case, "informed": {}})

    def _community(self, life: Life, t, staff) -> None:
        rng, c = self.rng, life.case
        t = _later(t, rng.uniform(0.05, 1.0))
        if t > self.now:
            return
        life.ev(t, staff, "community_handle", to=S.COMMUNITY_HANDLING)
        late = rng.random() < P.handle_late
        done = _at_share(c.accepted_at, c.due_at, rng.uniform(1.05, 1.8) if late else rng.uniform(0.15, 0.9))
        done = max(done, _later(t, rng.uniform(0.2, 1.0)))
        self._supervise_if_late(life, c.accepted_at, c.due_at, done, [])
        if done > self.now:
            return
        life.ev(done, staff, "handle", to=S.HANDLED, note=texts.handling_note(life.code, rng))
        self._verify_and_close(life, done)

    def _departments(self, life: Life, t, staff) -> None:
        rng, c = self.rng, life.case
        holder = life.community
        if rng.random() < P.escalate:
            t = _later(t, rng.uniform(0.5, 6))
            if t > self.now:
                return
            sub = Area.objects.get(pk=holder.parent_id) if holder.level == "community" else holder
            reason = texts.escalation_reason(rng)
            c.holder_area = sub
            life.ev(
                t,
                staff,
                "escalate",
                note=reason,
                data={"reason": reason, "from": holder.code, "to": sub.code, "level": sub.level},
            )
            holder, staff = sub, self.staff(sub)
        t = _later(t, rng.uniform(0.1, 2.0))
        if t > self.now:
            return
        indexes = self._whistle(life, t, staff, holder, exclude=())
        if rng.random() < P.return_step and len(indexes) == 1:
            step = life.steps[indexes[0]]
            back = _at_share(step.created_at, step.report_in_due_at, rng.uniform(0.2, 0.9))
            if back > self.now:
                return
            reason = texts.return_reason(rng)
            step.status, step.return_reason = StepStatus.RETURNED, reason
            c.holder_organisation = None
            life.ev(
                back,
                self.cast.handler[step.target_id],
                "return",
                to=S.ACCEPTED,
                note=reason,
                data={"reason": reason, "departments": [step.target.code]},
                steps={"steps": [indexes[0]]},
            )
            t = _later(back, rng.uniform(0.2, 3))
            if t > self.now:
                return
            indexes = self._whistle(life, t, staff, holder, exclude=(step.target_id,), kind=StepKind.WHISTLE)
        self._work(life, indexes, staff, holder)

    def _whistle(self, life: Life, t, staff, holder: Area, exclude, kind=None) -> list[int]:
        rng, c = self.rng, life.case
        category = self.categories[life.code]
        item = None
        if exclude:
            targets = [rng.choice([d for d in self.departments if d.pk not in exclude])]
        else:
            main = self.orgs[category.department_code]
            items = self.items_by_department.get(main.code, [])
            if items and rng.random() < P.whistle_item:
                item = rng.choice(items)
                targets = [self.orgs[code] for code in item.department_codes if code in self.orgs] or [main]
                kind = StepKind.WHISTLE
            else:
                targets = [main]
                if rng.random() < P.two_departments:
                    targets.append(rng.choice([d for d in self.departments if d.pk != main.pk]))
                    kind = StepKind.WHISTLE
        kind = kind or StepKind.DISPATCH
        (ri, ri_unit), (res, res_unit) = self._limits(item, category)
        indexes = []
        for target in targets:
            step = Step(
                kind=kind,
                source_area=holder,
                target=target,
                whistle_item=item,
                status=StepStatus.PENDING_REPORT_IN,
                report_in_due_at=worktime.add_working_time(t, ri, ri_unit),
                due_at=worktime.add_working_time(t, res, res_unit),
            )
            step.created_at = t
            life.steps.append(step)
            indexes.append(len(life.steps) - 1)
        latest = max(life.steps[i].due_at for i in indexes)
        if c.due_at is None or latest > c.due_at:
            c.due_at = latest
        c.holder_organisation = targets[0] if len(targets) == 1 else None
        life.ev(
            t,
            staff,
            "whistle",
            to=S.WHISTLED,
            data={
                "departments": [x.code for x in targets],
                "whistle_item": item.pk if item else None,
                "due_at": c.due_at.isoformat(),
            },
        )
        return indexes

    def _status_from_steps(self, life: Life) -> str:
        active = [
            s.status
            for s in life.steps
            if s.status
            in (
                StepStatus.PENDING_REPORT_IN,
                StepStatus.REPORTED_IN,
                StepStatus.IN_PROGRESS,
                StepStatus.HANDLED,
            )
        ]
        if not active:
            return S.ACCEPTED
        if all(s == StepStatus.HANDLED for s in active):
            return S.HANDLED
        if any(s != StepStatus.PENDING_REPORT_IN for s in active):
            return S.IN_PROGRESS
        return S.WHISTLED

    def _work(self, life: Life, indexes: list[int], staff, holder: Area) -> None:
        """Report-in and handling by each department, with the suspensions, deferrals and supervision
        orders that happen on the way, then the check on site and the close."""
        rng = self.rng
        plans = []
        for i in indexes:
            s = life.steps[i]
            late_in = rng.random() < P.report_in_late
            reported = _at_share(
                s.created_at, s.report_in_due_at, rng.uniform(1.1, 2.5) if late_in else rng.uniform(0.05, 0.9)
            )
            late = rng.random() < P.handle_late
            share = rng.uniform(1.05, 1.7) if late else rng.uniform(0.3, 0.92)
            plans.append((i, reported, share))
        for i, reported, _share in sorted(plans, key=lambda p: p[1]):
            s = life.steps[i]
            s.report_in_warning = self.warnings(
                life, "report_in", i, s.created_at, s.report_in_due_at, reported
            )
            if reported > self.now:
                return
            s.status, s.reported_in_at = StepStatus.REPORTED_IN, reported
            s.report_in_on_time = reported <= s.report_in_due_at
            life.ev(
                reported,
                self.cast.handler[s.target_id],
                "report_in",
                to=self._status_from_steps(life),
                data={"on_time": [s.report_in_on_time], "departments": [s.target.code]},
                steps={"steps": [i]},
            )
        t = max(p[1] for p in plans)
        if rng.random() < P.suspend:
            t = self._suspend(life, t, staff, holder)
            if t is None:
                return
        if rng.random() < P.defer:
            t = self._defer(life, t, holder)
            if t is None:
                return
        handled = []
        for i, _reported, share in plans:
            s = life.steps[i]
            done = max(
                _at_share(s.created_at, s.due_at, share), _later(s.reported_in_at, 0.5), _later(t, 0.5)
            )
            handled.append((done, i))
        for done, i in sorted(handled):
            s = life.steps[i]
            if rng.random() < P.progress_note:
                begin = max(s.reported_in_at, t)  # after any suspension or deferral
                at = _at_share(begin, done, rng.uniform(0.3, 0.7)) if done > begin else done
                if begin < at < done and at <= self.now:
                    status = life.status_at(at)
                    e = life.ev(
                        at, self.cast.handler[s.target_id], "note", note=texts.progress_note(life.code, rng)
                    )
                    e.from_status = e.to_status = status
            self._supervise_if_late(life, s.created_at, s.due_at, done, [i])
            s.warning_level = self.warnings(life, "resolution", i, s.created_at, s.due_at, done)
            if done > self.now:
                return
            s.status, s.handled_at = StepStatus.HANDLED, done
            s.handled_on_time = done <= s.due_at
            s.overdue = not s.handled_on_time
            s.feedback = texts.handling_note(life.code, rng)
            life.ev(
                done,
                self.cast.handler[s.target_id],
                "handle",
                to=self._status_from_steps(life),
                note=s.feedback,
                data={"on_time": [s.handled_on_time], "departments": [s.target.code]},
                steps={"steps": [i]},
            )
        self._verify_and_close(life, max(d for d, _ in handled))

    def _supervise_if_late(self, life: Life, start, due, done, indexes) -> None:
        rng = self.rng
        if done <= _at_share(start, due, 0.85) or rng.random() >= P.supervise_when_late:
            return
        late = done > due
        at = _at_share(start, due, 1.02 if late else 0.85)
        at = min(at, done - dt.timedelta(minutes=5))
        if at > self.now or at <= start:
            return
        level = (
            Supervision.RED
            if late and rng.random() < 0.4
            else (Supervision.YELLOW if late else Supervision.NORMAL)
        )
        actor = (
            self.staff(life.community)
            if level != Supervision.RED
            else self.staff(Area.objects.get(pk=life.community.parent_id))
        )
        life.case.supervision = level
        for i in indexes:
            life.steps[i].supervision = level
        status = life.status_at(at)  # events after `at` may be recorded already
        e = life.ev(
            at,
            actor,
            "supervise",
            note=texts.supervise_note(level, rng),
            data={"level": level},
            steps={"steps": list(indexes)},
        )
        e.from_status = e.to_status = status

    def _suspend(self, life: Life, t, staff, holder: Area):
        rng, c = self.rng, life.case
        asked = _later(t, rng.uniform(0.5, 4))
        reason = texts.suspension_reason(rng)
        if asked > self.now:
            return None
        life.ev(asked, staff, "request_suspension", note=reason, data={"reason": reason})
        approver = self.staff(Area.objects.get(pk=life.community.parent_id))
        start = _later(asked, rng.uniform(0.5, 4))
        if start > self.now:
            return None
        life.ev(start, approver, "suspend")
        end = _later(start, rng.uniform(3, 10) * 7)
        if end > self.now:
            c.suspended, c.suspended_at = True, start
            return None
        seconds = worktime.working_seconds_between(start, end)
        hours = seconds / 3600

        def shift(when):
            return worktime.add_working_time(when, hours, "hours") if when else when

        c.due_at = shift(c.due_at)
        for s in life.steps:
            if s.status in (StepStatus.PENDING_REPORT_IN, StepStatus.REPORTED_IN, StepStatus.IN_PROGRESS):
                s.due_at = shift(s.due_at)
        c.suspended_working_seconds += seconds
        life.ev(
            end,
            approver,
            "resume",
            data={"suspended_working_seconds": seconds, "due_at": c.due_at.isoformat()},
        )
        return end

    def _defer(self, life: Life, t, holder: Area):
        rng, c = self.rng, life.case
        at = _later(t, rng.uniform(1, 12))
        if at > self.now:
            return None
        approver = self.staff(Area.objects.get(pk=life.community.parent_id))
        until = timezone.localtime(at).date() + dt.timedelta(days=rng.randint(20, 60))
        new_due = worktime.end_of_working_day(until)
        if new_due <= c.due_at:
            return at
        reason = texts.defer_reason(rng)
        before = c.due_at
        c.deferred, c.deferred_until, c.due_at = True, until, new_due
        for s in life.steps:
            if s.status in (StepStatus.PENDING_REPORT_IN, StepStatus.REPORTED_IN, StepStatus.IN_PROGRESS):
                if s.due_at < new_due:
                    s.due_at = new_due
        life.ev(
            at,
            approver,
            "defer",
            note=reason,
            data={
                "reason": reason,
                "until": until.isoformat(),
                "previous_due_at": before.isoformat(),
                "due_at": new_due.isoformat(),
            },
        )
        return _at_share(at, new_due, rng.uniform(0.3, 0.9))

    def _soon(self, life: Life, after: dt.datetime, hours: tuple[float, float]) -> dt.datetime:
        """A moment after `after`: within the time left before the case's deadline when some is left
        (verification and closing are quick when the work was on time), else `hours` working hours."""
        due = life.case.due_at
        if due is not None and due > after and worktime.working_seconds_between(after, due) > 600:
            return _at_share(after, due, self.rng.uniform(0.15, 0.6))
        return _later(after, self.rng.uniform(*hours))

    def _verify_and_close(self, life: Life, handled_at) -> None:
        rng, c = self.rng, life.case
        t = self._soon(life, handled_at, (0.3, 6))
        if t > self.now:
            return
        worker = self.worker(life)
        if rng.random() < P.rework:
            c.rework_count += 1
            again = [i for i, s in enumerate(life.steps) if s.status == StepStatus.HANDLED]
            for i in again:
                s = life.steps[i]
                s.status, s.handled_at, s.handled_on_time = StepStatus.IN_PROGRESS, None, None
                s.rework_count += 1
            to = S.IN_PROGRESS if again else S.COMMUNITY_HANDLING
            life.ev(
                t,
                worker,
                "verify",
                to=to,
                note=texts.verify_fail_note(life.code, rng),
                data={"passed": False, "rework": c.rework_count},
                steps={"steps": again},
            )
            redo = _later(t, rng.uniform(3, 24))
            if redo > self.now:
                return
            if again:
                for i in again:
                    s = life.steps[i]
                    s.status, s.handled_at = StepStatus.HANDLED, redo
                    s.handled_on_time = redo <= s.due_at
                    s.overdue = s.overdue or not s.handled_on_time
                    s.feedback = texts.handling_note(life.code, rng)
                    life.ev(
                        redo,
                        self.cast.handler[s.target_id],
                        "handle",
                        to=self._status_from_steps(life),
                        note=s.feedback,
                        data={"on_time": [s.handled_on_time], "departments": [s.target.code]},
                        steps={"steps": [i]},
                    )
                    redo = redo + dt.timedelta(minutes=rng.randint(5, 90))
            else:
                life.ev(
                    redo,
                    self.staff(life.community),
                    "handle",
                    to=S.HANDLED,
                    note=texts.handling_note(life.code, rng),
                )
            t = self._soon(life, redo, (0.3, 6))
            if t > self.now:
                return
        life.ev(t, worker, "verify", to=S.VERIFIED, note=texts.verify_pass_note(rng), data={"passed": True})
        self._close(life, t)

    def _close(self, life: Life, verified_at) -> None:
        rng, c = self.rng, life.case
        t = self._soon(life, verified_at, (0.2, 4))
        c.warning_level = self.warnings(life, "resolution", None, c.accepted_at, c.due_at, t)
        if t > self.now:
            return
        closer = self.staff(c.holder_area)
        c.closing_type = ClosingType.OVERDUE if t > c.due_at else ClosingType.NORMAL
        c.closed_at = t
        life.ev(
            t,
            closer,
            "close",
            to=S.CLOSED,
            data={"closing_type": c.closing_type, "reason": "", "informed": {}},
        )
        if rng.random() >= P.rated:
            return
        visit = t + dt.timedelta(hours=rng.uniform(2, 60))
        if visit > self.now:
            return
        by_reporter = c.reporter_id is not None and c.channel == Channel.RESIDENT_APP and rng.random() < 0.6
        actor = c.reporter_id if by_reporter else self.staff(life.community)
        # The rules of the return_visit action (services.return_visit): the reporter rates in the app;
        # staff ask by phone or at the door, and an attempt that reaches nobody (reached=false) records
        # the method and the attempt, no rating, and the case stays closed.
        if by_reporter:
            method = VisitMethod.APP
        else:
            method = VisitMethod.VISIT if rng.random() < P.home_visit else VisitMethod.PHONE
            while rng.random() < P.unreached:
                c.visit_unreached += 1
                c.visit_method = method
                life.ev(
                    visit,
                    actor,
                    "return_visit",
                    to=S.CLOSED,
                    note=rng.choice(UNREACHED_NOTES[method]),
                    data={"reached": False, "method": method, "attempt": c.visit_unreached, "by": "staff"},
                )
                visit = visit + dt.timedelta(hours=rng.uniform(20, 60))
                if c.visit_unreached >= 3 or visit > self.now:
                    return
                if rng.random() < P.door_after_unreached:
                    method = VisitMethod.VISIT
        unhappy = c.closing_type == ClosingType.OVERDUE or c.rework_count > 0
        weights = (10, 15, 20, 30, 25) if unhappy else (2, 3, 10, 30, 55)
        stars = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
        comment = texts.rating_comment(stars, rng)
        c.satisfaction, c.satisfaction_comment, c.visit_method = stars, comment, method
        life.ev(
            visit,
            actor,
            "return_visit",
            to=S.RATED,
            note=comment,
            data={
                "satisfaction": stars, "by": "reporter" if by_reporter else "staff", "method": method,
                "reached": True,
            },
        )  # fmt: skip
        if stars <= UNSATISFIED_MAX:  # 不满意: the community follows it up (most of them already)
            c.follow_up = FollowUp.OPEN
            c.follow_up_due_at = worktime.add_working_time(visit, 3, "days")
            life.events[-1].data["follow_up_due_at"] = c.follow_up_due_at.isoformat()
            done = visit + dt.timedelta(hours=rng.uniform(3, 60))
            if rng.random() < 0.75 and done <= self.now:
                c.follow_up = FollowUp.DONE
                note = rng.choice(FOLLOW_UP_NOTES)
                life.ev(
                    done,
                    self.staff(life.community),
                    "follow_up",
                    note=note,
                    data={"follow_up_on_time": done <= c.follow_up_due_at},
                )


UNREACHED_NOTES = {
    VisitMethod.PHONE: ("电话无人接听，改日再回访", "电话已关机，稍后再联系", "号码暂时无法接通，明日再拨"),
    VisitMethod.VISIT: ("上门回访家中无人，已留言约定再访", "上门未见到报告人，邻居称外出务工"),
}

FOLLOW_UP_NOTES = (
    "已上门向居民说明处理情况，并安排复查",
    "已电话沟通，再次组织清理，居民表示认可",
    "已约谈物业，落实每日巡查，居民同意继续观察",
)


# --- the whole history ----------------------------------------------------------------------------------
def _pick_category(rng: random.Random, codes: list[str]) -> str:
    weights = [next((w for p, w in CATEGORY_WEIGHTS.items() if code.startswith(p)), 1.0) for code in codes]
    return rng.choices(codes, weights=weights)[0]


def _kind_for(code: str, channel: str) -> str:
    if channel == Channel.DEVICE:
        return CaseKind.ALARM
    if code.startswith(("G01",)):
        return CaseKind.DISPUTE
    if code.startswith(("G02", "G03")):
        return CaseKind.HAZARD
    return CaseKind.DEMAND


def generate_history(
    *, seed: int, days: int = 90, now: dt.datetime | None = None, log: Callable[[str], object] = print
) -> dict[str, int]:
    """Write `days` days of cases ending at `now` for the demo district. Returns counts."""
    now = now or timezone.now()
    rng = random.Random(f"{seed}:history")
    communities = {a.pk: a for a in Area.objects.filter(level="community")}
    by_code = {a.code: a for a in communities.values()}
    grids = {a.pk: a for a in Area.objects.filter(level="grid")}
    cast = Cast.load(communities)
    buildings = list(
        Building.objects.filter(households__gt=0)
        .order_by("code")
        .values_list("pk", "grid_id", "lng", "lat", "name", "address", "households")
    )
    if not buildings or not cast.staff:
        return {"cases": 0}
    categories = {c.code: c for c in Category.objects.filter(parent__isnull=False, is_active=True)}
    codes = sorted(c for c in categories if c in texts.SUBCATEGORY_CODES and categories[c].department_code)
    orgs = {
        o.code: o for o in Organisation.objects.filter(is_active=True, kind__in=["department", "partner"])
    }
    departments = sorted(
        (o for o in orgs.values() if o.kind == "department" and o.pk in cast.handler), key=lambda o: o.code
    )
    codes = [c for c in codes if categories[c].department_code in orgs]
    items_by_department = defaultdict(list)
    for item in WhistleItem.objects.filter(is_active=True).order_by("id"):
        if all(code in orgs and orgs[code].pk in cast.handler for code in item.department_codes):
            for code in item.department_codes:
                items_by_department[code].append(item)
    sim = Simulator(
        rng=rng,
        now=now,
        cast=cast,
        ctx={
            "categories": categories,
            "items_by_department": items_by_department,
            "orgs": orgs,
            "departments": departments,
        },
    )

    households = sum(b[6] for b in buildings)
    total = round(households / 1000 * CASES_PER_1000_HOUSEHOLDS_PER_DAY * days)
    cum_weights = list(itertools.accumulate(b[6] for b in buildings))  # once: `weights=` redoes it per call
    start = now - dt.timedelta(days=days)
    moments = sorted(start + dt.timedelta(days=rng.random() * days) for _ in range(total))
    lives: list[Life] = []
    for i, moment in enumerate(moments):
        local = timezone.localtime(moment)
        hour = rng.choices(range(24), weights=HOURS_OF_REPORTS)[0]
        created = local.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59))
        fresh = i >= total - FRESH_REPORTS
        if fresh:
            created = now - dt.timedelta(minutes=rng.randint(3, 50))
        elif created >= now:
            created = now - dt.timedelta(minutes=rng.randint(5, 600))
        b_id, grid_id, lng, lat, b_name, b_address, _h = rng.choices(buildings, cum_weights=cum_weights)[0]
        grid = grids[grid_id]
        community = by_code[grid.path.split("/")[2]]
        channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        code = _pick_category(rng, codes)
        kind_of_place = texts.PLACE_KIND[code]
        street = kind_of_place == "street" or (kind_of_place == "either" and rng.random() < 0.35)
        place = texts.street_place(rng) if street else (b_name or b_address)
        case = Case(
            kind=_kind_for(code, channel),
            channel=channel,
            description=texts.describe(code, rng, place=place, style=STYLE_OF_CHANNEL[channel]),
            lng=lng + rng.uniform(-0.0002, 0.0002) if street else lng,
            lat=lat + rng.uniform(-0.0002, 0.0002) if street else lat,
            input_crs="wgs84",
            grid=grid,
            area=grid,
            address=place,
            holder_area=community,
            priority="urgent" if rng.random() < 0.05 else "normal",
            merged_reporters=[],
        )
        case.created_at = created
        _reporter(case, channel, community, grid, cast, rng)
        if case.channel in (Channel.HOTLINE, Channel.WINDOW):
            case.category = categories[code]  # staff classify a call or a visit as they record it
        life = Life(case=case, code=code, community=community, fresh=fresh)
        sim.live(life)
        lives.append(life)
    counts = _write(lives, sim, now)
    swept = sla.sweep(now)
    counts["warnings_raised"] = swept.get("yellow", 0) + swept.get("red", 0)
    log(f"Case history: {counts['cases']:,} cases over {days} days, {counts['events']:,} timeline events.")
    return counts


def _reporter(case: Case, channel: str, community: Area, grid: Area, cast: Cast, rng) -> None:
    if channel == Channel.RESIDENT_APP and cast.residents.get(community.pk):
        user = rng.choice(cast.residents[community.pk])
        case.created_by_id = case.reporter_id = user
        case.reporter_name, case.reporter_phone = cast.names[user]
    elif channel == Channel.PATROL:
        user = cast.grid_worker[grid.pk]
        case.created_by_id = case.reporter_id = user
        case.reporter_name, case.reporter_phone = cast.names[user]
    elif channel == Channel.BUILDING_HEAD and grid.pk in cast.building_head:
        user = cast.building_head[grid.pk]
        case.created_by_id = case.reporter_id = user
        case.reporter_name, case.reporter_phone = cast.names[user]
    elif channel == Channel.DEVICE:
        case.created_by_id = cast.admin
    else:  # hotline, window, or a resident app report where the community has no resident account
        case.channel = channel if channel in (Channel.HOTLINE, Channel.WINDOW) else Channel.HOTLINE
        case.created_by_id = rng.choice(cast.staff[community.pk])
        case.reporter_name, case.reporter_phone = texts.person_name(rng), texts.phone(rng)


# --- writing it all ---------------------------------------------------------------------------------------
BATCH = 500


def _informed(case: Case) -> tuple[list[tuple[Case | str, int]], int]:
    """(report, user id) pairs told in-app of the outcome of `case`, and the count reachable by phone only."""
    reports = [(case, case.reporter_id, case.reporter_phone)]
    reports += [(r["case"], r["reporter_id"], merged_phone(r)) for r in case.merged_reporters]
    told, seen, by_phone = [], set(), 0
    for report, user_id, phone in reports:
        if user_id is None:
            by_phone += bool(phone)
        elif user_id not in seen:
            seen.add(user_id)
            told.append((report, user_id))
    return told, by_phone


def _write(lives: list[Life], sim: Simulator, now: dt.datetime) -> dict[str, int]:
    cases = [life.case for life in lives]
    for i, life in enumerate(lives):
        c = life.case
        c.number = f"TMP-{i}"
        c.status = life.status
        c.version = 1 + life.moves
        life.events.sort(key=lambda e: e.at)
        c.updated_at = life.events[-1].at
    merged = [(c, c.merged_into) for c in cases if c.merged_into is not None]
    for c, _target in merged:
        c.merged_into = None
    created = [c.created_at for c in cases]
    reporters = [c.merged_reporters for c in cases]  # they name cases, which have no number yet
    for c in cases:
        c.merged_reporters = []
    Case.objects.bulk_create(cases, batch_size=BATCH)
    for c, when in zip(cases, created, strict=True):
        c.created_at = when
        c.number = f"GG{timezone.localtime(when):%Y%m%d}-{c.pk:06d}"
    for c, target in merged:
        c.merged_into = target
    for c, merged_reporters in zip(cases, reporters, strict=True):
        c.merged_reporters = [{**r, "case": r["case"].number} for r in merged_reporters]
    Case.objects.bulk_update(
        cases, ["number", "created_at", "updated_at", "merged_into", "merged_reporters"], batch_size=BATCH
    )

    steps = []
    for life in lives:
        for step in life.steps:
            step.case = life.case
            steps.append(step)
    step_created = [s.created_at for s in steps]
    Step.objects.bulk_create(steps, batch_size=BATCH)
    for s, when in zip(steps, step_created, strict=True):
        s.created_at = when
    Step.objects.bulk_update(steps, ["created_at"], batch_size=BATCH)

    events, notes = [], []
    by_number = {c.number: c for c in cases}
    with translation.override(MESSAGE_LANGUAGE):
        for life in lives:
            c = life.case
            for e in life.events:
                data = dict(e.data)
                for key, value in data.items():
                    if isinstance(value, Case):
                        data[key] = value.number
                for key, refs in e.step_refs.items():
                    data[key] = life.steps[refs].pk if key == "step_id" else [life.steps[i].pk for i in refs]
                note = e.note
                if e.watch is not None:
                    deadline, index, due, level = e.watch
                    step = life.steps[index] if index is not None else None
                    note = sla.message(c, sla.Watch(deadline, step, "", due, WarningLevel.NONE, level))
                if e.action in ("reject", "merge", "close"):
                    data["informed"] = _outcome_notes(life, e, data, notes, now, by_number)
                events.append(
                    TimelineEvent(
                        case=c,
                        at=e.at,
                        actor_id=e.actor,
                        action=e.action,
                        from_status=e.from_status,
                        to_status=e.to_status,
                        note=note,
                        data=data,
                    )
                )
    timeline.record_many(events, batch_size=BATCH)
    notifications.notify_many(notes, external=False, batch_size=BATCH)  # history: in-app only, never sent
    return {"cases": len(cases), "steps": len(steps), "events": len(events), "notifications": len(notes)}


def _outcome_notes(life: Life, e: Ev, data: dict, notes: list, now, by_number: dict) -> dict[str, int]:
    """The outcome notifications of a reject, merge or close, as the services write them."""
    case = life.case
    if e.action == "close":
        told, by_phone = _informed(case)
        handled = [x.note for x in life.events if x.action == "handle" and x.at <= e.at]
        facts = {"outcome": (handled[-1] if handled else "").strip()}
    else:
        told = [(case, case.reporter_id)] if case.reporter_id else []
        by_phone = int(case.reporter_id is None and bool(case.reporter_phone))
        facts = {"reason": data.get("reason", ""), "target": data.get("target", "")}
    for report, user_id in told:
        number = report.number if isinstance(report, Case) else report
        own = report if isinstance(report, Case) else by_number.get(number, case)
        read = e.at + dt.timedelta(hours=20) if now - e.at > dt.timedelta(days=3) else None
        about = {"case": number, "number": number, "outcome_case": case.number, "status": e.to_status}
        notes.append(
            notifications.Notice(
                user_id,
                "outcome",
                {**about, "action": e.action, **facts},
                own,
                created_at=e.at,
                read_at=read,
            )
        )
    return {"in_app": len(told), "by_phone": by_phone}
