"""The case state machine: ONE transition table (action → from-statuses, resulting status, who may do it,
required fields, extra guard), and the helpers every move goes through:

    take(case_id, version)      lock the row, check and bump the version atomically → Conflict (409)
    check(case, action, actor)  status and guard → Conflict (409); the table's roles → Forbidden (403)
    move(case, action, actor)   new status, photos tied to the case, save, one TimelineEvent
    allowed_actions(case, user) the actions the user may take now, from the same table

Who may act is a list of (role, condition) rules; a user may act when any of their memberships matches
one rule. Conditions:
    territory  the membership's area subtree contains the case's area
    holder     the membership's area is the case's current holder (the community after intake; the
               subdistrict or district after an escalation): the dispatcher of the case
    grid       a grid worker whose grid (or area below it) is the case's area
    step:<s>   a department/partner handler whose organisation is the target of a step in status <s>
    reporter   the user reported the case
    any        always (administrators)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.roles import Role
from gridgov.cases.models import (
    OPEN_STEP_STATUSES,
    Case,
    Status,
    StepStatus,
    TimelineEvent,
)
from gridgov.core import attachments, worktime
from gridgov.core.errors import Conflict, Forbidden, NotFound


# --- actors -----------------------------------------------------------------------------------------
@dataclass
class Actor:
    """A user's memberships, grouped by role: area paths and ids, organisation ids."""

    user: object
    paths: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    area_ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    org_ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    roles: set[str] = field(default_factory=set)


def actor_for(user) -> Actor:
    cached = getattr(user, "_gridgov_case_actor", None)
    if cached is not None:
        return cached
    from gridgov.accounts.models import Membership

    actor = Actor(user=user)
    if user is not None and getattr(user, "is_authenticated", False):
        for m in Membership.objects.filter(user=user).select_related("area"):
            actor.roles.add(m.role)
            if m.area_id:
                actor.paths[m.role].append(m.area.path)
                actor.area_ids[m.role].add(m.area_id)
            if m.organisation_id:
                actor.org_ids[m.role].add(m.organisation_id)
        user._gridgov_case_actor = actor
    return actor


# --- conditions -------------------------------------------------------------------------------------
def _steps(case: Case) -> list:
    cached = getattr(case, "_steps_cache", None)
    if cached is None:
        cached = list(case.steps.all())
        case._steps_cache = cached
    return cached


def _territory(case: Case, actor: Actor, role: str) -> bool:
    path = case.area.path
    return any(path.startswith(p) for p in actor.paths.get(role, ()))


def _holder(case: Case, actor: Actor, role: str) -> bool:
    return case.holder_area_id is not None and case.holder_area_id in actor.area_ids.get(role, ())


def _step_in(*statuses: str) -> Callable[[Case, Actor, str], bool]:
    def check(case: Case, actor: Actor, role: str) -> bool:
        orgs = actor.org_ids.get(role, ())
        return any(s.target_id in orgs and s.status in statuses for s in _steps(case))

    check.__name__ = "step:" + "/".join(statuses)
    return check


def _work_in_hand(case: Case, actor: Actor, role: str) -> bool:
    """Some step has reported in and is not handled yet (an administrator handles those)."""
    return any(s.status in (StepStatus.REPORTED_IN, StepStatus.IN_PROGRESS) for s in _steps(case))


def _reporter(case: Case, actor: Actor, role: str) -> bool:
    return case.reporter_id is not None and case.reporter_id == getattr(actor.user, "pk", None)


def _any(case: Case, actor: Actor, role: str) -> bool:
    return True


_territory.__name__ = "territory"
_holder.__name__ = "holder"
_reporter.__name__ = "reporter"
_work_in_hand.__name__ = "work in hand"
_any.__name__ = "any"
_grid = _territory  # a grid worker's membership area is their grid


@dataclass(frozen=True)
class Rule:
    role: str  # a Role value, or "reporter" for whoever reported the case
    condition: Callable[[Case, Actor, str], bool]
    statuses: frozenset[str] | None = None  # only in these statuses (None: every source status)

    def matches(self, case: Case, actor: Actor) -> bool:
        if self.statuses is not None and case.status not in self.statuses:
            return False
        if self.role == "reporter":
            return _reporter(case, actor, self.role)
        return self.role in actor.roles and self.condition(case, actor, self.role)

    def describe(self) -> str:
        where = self.condition.__name__
        only = f" (in {', '.join(sorted(self.statuses))})" if self.statuses else ""
        return f"{self.role}: {where}{only}"


# --- guards (state conditions beyond the status) ----------------------------------------------------
def _elapsed_share(start, due, now) -> float:
    if start is None or due is None:
        return 0.0
    total = worktime.working_seconds_between(start, due)
    if total <= 0:
        return 1.0 if now >= due else 0.0
    return worktime.working_seconds_between(start, now) / total


def near_deadline(case: Case, now=None) -> bool:
    """At least 80% of some running limit is used, or it has passed (督办 is for such cases)."""
    now = now or timezone.now()
    if (
        case.due_at is not None
        and _elapsed_share(case.accepted_at or case.created_at, case.due_at, now) >= 0.8
    ):
        return True
    for s in _steps(case):
        if s.status == StepStatus.PENDING_REPORT_IN and s.report_in_due_at is not None:
            if _elapsed_share(s.created_at, s.report_in_due_at, now) >= 0.8:
                return True
        if s.status in OPEN_STEP_STATUSES and s.due_at is not None:
            if _elapsed_share(s.created_at, s.due_at, now) >= 0.8:
                return True
    return False


def _can_escalate(case: Case) -> bool:
    return case.holder_area_id is not None and case.holder_area.level != "district"


def _not_merged(case: Case) -> bool:
    return case.merged_into_id is None


def _suspension_requestable(case: Case) -> bool:
    return not case.suspension_requested and not case.suspended


def _suspension_requested(case: Case) -> bool:
    return case.suspension_requested and not case.suspended


def _is_suspended(case: Case) -> bool:
    return case.suspended


def _deferrable(case: Case) -> bool:
    return not case.deferred and case.due_at is not None


# --- the table --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the status does not change
    rules: tuple[Rule, ...]
    required: tuple[str, ...] = ()
    guard: Callable[[Case], bool] | None = None
    guard_text: str = ""
    while_suspended: bool = False
    note: str = ""


S = Status
WORKING = frozenset({S.ACCEPTED, S.COMMUNITY_HANDLING, S.WHISTLED, S.IN_PROGRESS})
ADMIN = Rule(Role.ADMIN, _any)
HOLDERS = (
    Rule(Role.COMMUNITY_STAFF, _holder),
    Rule(Role.SUBDISTRICT_STAFF, _holder),
    Rule(Role.LEADER, _holder),
    ADMIN,
)
ABOVE = (
    Rule(Role.SUBDISTRICT_STAFF, _territory),
    Rule(Role.LEADER, _territory),
    ADMIN,
)
DEPT = (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)


def _t(action, sources, target, rules, required=(), **kw) -> Transition:
    return Transition(action, frozenset(sources), target, tuple(rules), tuple(required), **kw)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t(
            "accept",
            {S.SUBMITTED},
            S.ACCEPTED,
            HOLDERS,
            ("category_code",),
            note="category_code may be left out when the case already has a category",
        ),
        _t("reject", {S.SUBMITTED}, S.REJECTED, HOLDERS, ("reason",)),
        _t(
            "merge",
            {S.SUBMITTED, S.ACCEPTED},
            S.CLOSED,
            HOLDERS,
            ("target_case_number",),
            note="closing_type special; the reporter is recorded on the target case",
        ),
        _t("community_handle", {S.ACCEPTED}, S.COMMUNITY_HANDLING, HOLDERS),
        _t(
            "whistle",
            {S.ACCEPTED},
            S.WHISTLED,
            HOLDERS,
            ("departments or whistle_item_id",),
            note="one step per department; without either, the category's responsible department",
        ),
        _t(
            "report_in",
            {S.WHISTLED, S.IN_PROGRESS},
            S.IN_PROGRESS,
            [Rule(r, _step_in(StepStatus.PENDING_REPORT_IN)) for r in DEPT],
        ),
        _t(
            "handle",
            {S.IN_PROGRESS, S.COMMUNITY_HANDLING},
            S.HANDLED,
            [
                *(
                    Rule(
                        r,
                        _step_in(StepStatus.REPORTED_IN, StepStatus.IN_PROGRESS),
                        frozenset({S.IN_PROGRESS}),
                    )
                    for r in DEPT
                ),
                Rule(Role.COMMUNITY_STAFF, _holder, frozenset({S.COMMUNITY_HANDLING})),
                Rule(Role.SUBDISTRICT_STAFF, _holder, frozenset({S.COMMUNITY_HANDLING})),
                Rule(Role.ADMIN, _work_in_hand, frozenset({S.IN_PROGRESS})),
                Rule(Role.ADMIN, _any, frozenset({S.COMMUNITY_HANDLING})),
            ],
            ("note",),
            note="handled once every active step is handled; until then in_progress",
        ),
        _t(
            "return",
            {S.WHISTLED, S.IN_PROGRESS},
            S.ACCEPTED,
            [Rule(r, _step_in(*OPEN_STEP_STATUSES)) for r in DEPT],
            ("reason",),
            note="accepted again once no active step is left",
        ),
        _t("reassign", {S.WHISTLED, S.IN_PROGRESS}, None, HOLDERS, ("step_id", "departments")),
        _t(
            "verify",
            {S.HANDLED},
            S.VERIFIED,
            [Rule(Role.GRID_WORKER, _grid), ADMIN],
            ("passed",),
            note="passed=false: back to in_progress (or community_handling), rework_count + 1",
        ),
        _t(
            "close",
            {S.VERIFIED},
            S.CLOSED,
            HOLDERS,
            note="closing_type overdue when due_at has passed, else normal; error/special: leader or admin, with reason",
        ),
        _t(
            "return_visit",
            {S.CLOSED},
            S.RATED,
            [Rule("reporter", _reporter), Rule(Role.COMMUNITY_STAFF, _territory), ADMIN],
            ("satisfaction",),
            guard=_not_merged,
            guard_text="not merged",
        ),
        _t(
            "supervise",
            WORKING | {S.HANDLED},
            None,
            [Rule(Role.COMMUNITY_STAFF, _territory), *ABOVE],
            ("level",),
            guard=near_deadline,
            guard_text="a limit is ≥ 80% used or passed",
        ),
        _t(
            "escalate",
            WORKING,
            None,
            [Rule(Role.COMMUNITY_STAFF, _holder), Rule(Role.SUBDISTRICT_STAFF, _holder), ADMIN],
            ("reason",),
            guard=_can_escalate,
            guard_text="holder below the district",
        ),
        _t(
            "request_suspension",
            WORKING,
            None,
            [*HOLDERS, *(Rule(r, _step_in(*OPEN_STEP_STATUSES)) for r in DEPT)],
            ("reason",),
            guard=_suspension_requestable,
            guard_text="not requested yet",
        ),
        _t(
            "suspend",
            WORKING,
            None,
            ABOVE,
            guard=_suspension_requested,
            guard_text="suspension requested",
            note="approval: stops the clock",
        ),
        _t(
            "note",
            WORKING | {S.HANDLED},
            None,
            [
                *HOLDERS,
                *(Rule(r, _step_in(*OPEN_STEP_STATUSES)) for r in DEPT),
                Rule(Role.GRID_WORKER, _grid),
            ],
            ("note",),
            note="a progress note (with photos) on the timeline; the status does not change",
        ),
        _t(
            "defer",
            WORKING | {S.HANDLED},
            None,
            ABOVE,
            ("reason", "until"),
            guard=_deferrable,
            guard_text="not deferred yet; has a deadline",
            note="缓办: the deadline moves to the end of `until`; out of the close-rate denominators",
        ),
        _t(
            "resume",
            WORKING,
            None,
            ABOVE,
            guard=_is_suspended,
            guard_text="suspended",
            while_suspended=True,
            note="due dates move by the suspended working time",
        ),
    )
}
ACTIONS = tuple(TRANSITIONS)


# --- checks -----------------------------------------------------------------------------------------
def transition(action: str) -> Transition:
    t = TRANSITIONS.get(action)
    if t is None:
        raise NotFound(_("There is no action “%(action)s”.") % {"action": action})
    return t


def state_allows(case: Case, t: Transition) -> bool:
    if case.status not in t.sources:
        return False
    if case.suspended and not t.while_suspended:
        return False
    return t.guard is None or t.guard(case)


def role_allows(case: Case, t: Transition, actor: Actor) -> bool:
    return any(rule.matches(case, actor) for rule in t.rules)


def allowed_actions(case: Case, user) -> list[str]:
    actor = actor_for(user)
    return [a for a, t in TRANSITIONS.items() if state_allows(case, t) and role_allows(case, t, actor)]


def check(case: Case, action: str, user) -> Transition:
    t = transition(action)
    if not state_allows(case, t):
        raise Conflict(
            _("This case cannot take the action “%(action)s” now (status: %(status)s).")
            % {"action": action, "status": case.get_status_display()}
        )
    if not role_allows(case, t, actor_for(user)):
        raise Forbidden(_("You may not take the action “%(action)s” on this case.") % {"action": action})
    return t


def take(case_id: int, version: int) -> Case:
    """Lock the case and move its version from `version` to `version + 1` in one conditional UPDATE:
    a stale or concurrent move gets Conflict, whatever the database."""
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("area", "holder_area", "category")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound(_("Nothing here, or it is outside your area."))
    stale = _("Someone else changed this case first; reload it and try again.")
    if case.version != version:
        raise Conflict(stale, current_version=case.version)
    if Case.objects.filter(pk=case_id, version=version).update(version=F("version") + 1) != 1:
        raise Conflict(stale)
    case.version = version + 1
    return case


def record(
    case: Case,
    action: str,
    actor,
    *,
    from_status: str,
    note: str = "",
    data: dict | None = None,
    attachments: list[str] | None = None,
) -> TimelineEvent:
    return TimelineEvent.objects.create(
        case=case,
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=from_status,
        to_status=case.status,
        note=note,
        data=data or {},
        attachments=attachments or [],
    )


def claim_attachments(case: Case, actor, ids: list[str]) -> list[str]:
    """Tie uploaded photos to the case (core attachments). Each id must name a photo the actor uploaded
    that is not tied to another case (ValidationFailed, field `attachments`, otherwise). Returns the
    ids, deduplicated."""
    return attachments.claim(case, actor, ids, field="attachments")


def move(
    case: Case,
    action: str,
    actor,
    *,
    status: str | None = None,
    note: str = "",
    data: dict | None = None,
    attachments: list[str] | None = None,
) -> Case:
    """Set the new status (the table's, unless the service computed another), save, record."""
    t = TRANSITIONS[action]
    from_status = case.status
    new = status if status is not None else t.target
    if new is not None:
        case.status = new
    if attachments:
        attachments = claim_attachments(case, actor, attachments)
        case.attachments = [*case.attachments, *attachments]
    case.save()
    record(case, action, actor, from_status=from_status, note=note, data=data, attachments=attachments)
    return case


def table_rows() -> list[dict]:
    """The transition table as rows (docs, tests)."""
    return [
        {
            "action": t.action,
            "from": sorted(str(s) for s in t.sources),
            "to": t.target or "(unchanged)",
            "who": [r.describe() for r in t.rules],
            "required": list(t.required),
            "guard": t.guard_text,
            "note": t.note,
        }
        for t in TRANSITIONS.values()
    ]


def markdown_table() -> str:
    """The transition table as Markdown (docs/cases.md embeds it; a test keeps them equal)."""
    lines = [
        "| action | from | to | who may (role: condition) | required | guard |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in table_rows():
        lines.append(
            "| `{}` | {} | {} | {} | {} | {} |".format(
                r["action"],
                ", ".join(str(s) for s in r["from"]),
                r["to"],
                "<br>".join(r["who"]),
                ", ".join(r["required"]) or "—",
                r["guard"] or "—",
            )
        )
    return "\n".join(lines)
