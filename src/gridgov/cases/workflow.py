"""The case state machine on the core engine (core/workflow.py): ONE transition table (action →
from-statuses, resulting status, who may do it, required fields, extra guard), the table of the steps
of a case, and the helpers every move goes through:

    take(case_id, version)      lock the row, check and bump the version atomically → Conflict (409)
    check(case, action, actor)  status and guard → Conflict (409); the table's roles → Forbidden (403)
    move(case, action, actor)   new status, photos tied to the case, save, one TimelineEvent
    allowed_actions(case, user) the actions the user may take now, from the same table
    steps_for(case, action, u)  the steps of the locked case that the step action may move for the user
    move_step(step, action, u)  one step move by the step table (STEPS); the case's move records it

Who may act is a list of (role, condition) rules; a user may act when any of their memberships matches
one rule. Conditions:
    territory  the membership's area subtree contains the case's area
    holder     the membership's area is the case's current holder (the community after intake; the
               subdistrict or district after an escalation): the dispatcher of the case
    grid       a grid worker whose grid (or area below it) is the case's area
    step:<s>   a department/partner handler whose organisation is the target of a step in status <s>
    reporter   the user reported the case

The administrators hold no business action (三权分立): the system administrator configures the system
and may read cases, but accepts, dispatches, handles, checks, closes, rates or supervises nothing; the
security and audit administrators see no cases at all.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.accounts.roles import Role
from gridgov.cases.models import (
    OPEN_STEP_STATUSES,
    Case,
    FollowUp,
    Status,
    Step,
    StepStatus,
    TimelineEvent,
)
from gridgov.core import attachments, timeline, worktime
from gridgov.core.errors import field_error
from gridgov.core.principal import Principal, principal_for
from gridgov.core.workflow import Rule, Transition, Workflow, transition, via
from gridgov.territory import paths

# --- actors -----------------------------------------------------------------------------------------
# The actor is the request's principal (gridgov.core.principal): `.user`, `.roles`, `.paths[role]`,
# `.area_ids[role]`, `.org_ids[role]`, loaded once per request with the user's data scope.
Actor = Principal


def actor_for(user) -> Actor:
    return principal_for(user)


# --- conditions -------------------------------------------------------------------------------------
def _steps(case: Case) -> list:
    cached = getattr(case, "_steps_cache", None)
    if cached is None:
        cached = list(case.steps.all())
        case._steps_cache = cached
    return cached


def _territory(case: Case, actor: Actor, role: str) -> bool:
    return paths.within(case.area.path, actor.paths.get(role, ()))


def _holder(case: Case, actor: Actor, role: str) -> bool:
    return case.holder_area_id is not None and case.holder_area_id in actor.area_ids.get(role, ())


def _step_in(*statuses: str) -> Callable[[Case, Actor, str], bool]:
    def check(case: Case, actor: Actor, role: str) -> bool:
        orgs = actor.org_ids.get(role, ())
        return any(s.target_id in orgs and s.status in statuses for s in _steps(case))

    check.__name__ = "step:" + "/".join(statuses)
    return check


def _reporter(case: Case, actor: Actor, role: str) -> bool:
    return case.reporter_id is not None and case.reporter_id == getattr(actor.user, "pk", None)


_territory.__name__ = "territory"
_holder.__name__ = "holder"
_reporter.__name__ = "reporter"
_grid = _territory  # a grid worker's membership area is their grid


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


def _follow_up_open(case: Case) -> bool:
    return case.follow_up == FollowUp.OPEN


def _deferrable(case: Case) -> bool:
    return not case.deferred and case.due_at is not None


# --- the table --------------------------------------------------------------------------------------
S = Status
WORKING = frozenset({S.ACCEPTED, S.COMMUNITY_HANDLING, S.WHISTLED, S.IN_PROGRESS})
HOLDERS = (
    Rule(Role.COMMUNITY_STAFF, _holder),
    Rule(Role.SUBDISTRICT_STAFF, _holder),
    Rule(Role.LEADER, _holder),
)
ABOVE = (
    Rule(Role.SUBDISTRICT_STAFF, _territory),
    Rule(Role.LEADER, _territory),
)
DEPT = (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)


_t = transition


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
            [Rule(Role.GRID_WORKER, _grid)],
            ("passed",),
            note="passed=false (with the reason in note): back to in_progress (or community_handling), rework_count + 1",
        ),
        _t(
            "close",
            {S.VERIFIED},
            S.CLOSED,
            HOLDERS,
            note="closing_type overdue when due_at has passed, else normal; error/special: a leader, with reason",
        ),
        _t(
            "return_visit",
            {S.CLOSED},
            S.RATED,
            [Rule("reporter", _reporter, membership=False), Rule(Role.COMMUNITY_STAFF, _territory)],
            ("satisfaction",),
            guard=_not_merged,
            guard_text="not merged",
            note="satisfaction 1–2 (不满意) opens a follow-up for the community",
        ),
        _t(
            "follow_up",
            {S.RATED},
            None,
            [Rule(Role.COMMUNITY_STAFF, _territory), Rule(Role.SUBDISTRICT_STAFF, _holder)],
            ("note",),
            guard=_follow_up_open,
            guard_text="a follow-up is open",
            note="closes the follow-up of an unsatisfied rating: what the community did",
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
            [Rule(Role.COMMUNITY_STAFF, _holder), Rule(Role.SUBDISTRICT_STAFF, _holder)],
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
            while_blocked=True,
            note="due dates move by the suspended working time",
        ),
    )
}


# --- records ----------------------------------------------------------------------------------------
def record(
    case: Case,
    action: str,
    actor,
    *,
    from_status: str,
    note: str = "",
    data: dict | None = None,
    attachments: list[str] | None = None,
    on_behalf_of: int | None = None,
) -> TimelineEvent:
    return timeline.record(
        TimelineEvent,
        case=case,
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        on_behalf_of_id=on_behalf_of,
        action=action,
        from_status=from_status,
        to_status=case.status,
        note=note,
        data=data or {},
        attachments=attachments or [],
    )


# --- the case workflow on the engine ----------------------------------------------------------------
CASES = Workflow(
    model=Case,
    transitions=TRANSITIONS.values(),
    record=record,
    records_on_behalf_of=True,
    blocked=_is_suspended,
    select_related=("area", "holder_area", "category"),
    texts={
        "conflict": gettext_lazy("This case cannot take the action “%(action)s” now (status: %(status)s)."),
        "forbidden": gettext_lazy("You may not take the action “%(action)s” on this case."),
        "stale": gettext_lazy("Someone else changed this case first; reload it and try again."),
    },
)
ACTIONS = CASES.actions


def transition(action: str) -> Transition:
    return CASES.transition(action)


def state_allows(case: Case, t: Transition) -> bool:
    return CASES.state_allows(case, t)


def role_allows(case: Case, t: Transition, actor: Actor) -> bool:
    return CASES.role_allows(case, t, actor)


def allowed_actions(case: Case, user) -> list[str]:
    return CASES.allowed_actions(case, user)


def check(case: Case, action: str, user) -> Transition:
    return CASES.require(case, action, user)


require = check


def take(case_id: int, version: int) -> Case:
    """Lock the case and move its version from `version` to `version + 1` in one conditional UPDATE:
    a stale or concurrent move gets Conflict, whatever the database."""
    return CASES.take(case_id, version)


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
    """Set the new status (the table's, unless the service computed another), tie the photos, save,
    record one TimelineEvent."""
    if attachments:
        attachments = claim_attachments(case, actor, attachments)
        case.attachments = [*case.attachments, *attachments]
    return CASES.move(case, action, actor, status=status, note=note, data=data, attachments=attachments)


def table_rows() -> list[dict]:
    """The transition table as rows (docs, tests)."""
    return CASES.table_rows()


def markdown_table() -> str:
    """The transition table as Markdown (docs/cases.md embeds it; a test keeps them equal)."""
    return CASES.markdown_table()


# --- the steps of a case ----------------------------------------------------------------------------
# A step has no version of its own: its case's `take` holds the lock, and the case action (report_in,
# handle, return, reassign, verify) has been checked before a step moves. The step table says which
# step statuses each step move starts from and who may move a step.
def _case_of(step: Step) -> Case:
    return step.case


def _target(step: Step, actor: Actor, role: str) -> bool:
    return step.target_id in actor.org_ids.get(role, ())


_target.__name__ = "target"
ST = StepStatus
OWN_STEP = tuple(Rule(r, _target) for r in DEPT)
STEP_TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("report_in", {ST.PENDING_REPORT_IN}, ST.REPORTED_IN, OWN_STEP, note="case action report_in"),
        _t(
            "handle",
            {ST.REPORTED_IN, ST.IN_PROGRESS},
            ST.HANDLED,
            OWN_STEP,
            ("note",),
            note="case action handle",
        ),
        _t("return", OPEN_STEP_STATUSES, ST.RETURNED, OWN_STEP, ("reason",), note="case action return"),
        _t(
            "cancel",
            OPEN_STEP_STATUSES,
            ST.CANCELLED,
            [Rule(r.role, via(_case_of, _holder, "case ")) for r in HOLDERS],
            note="case action reassign: a new step for the new department",
        ),
        _t(
            "rework",
            {ST.HANDLED},
            ST.IN_PROGRESS,
            [Rule(Role.GRID_WORKER, via(_case_of, _grid, "case "))],
            note="case action verify with passed=false",
        ),
    )
}
STEPS = Workflow(
    model=Step,
    transitions=STEP_TRANSITIONS.values(),
    version_field=None,
    texts={
        "conflict": gettext_lazy("This step cannot take the action “%(action)s” now (status: %(status)s)."),
        "forbidden": gettext_lazy("No step of yours is waiting for this action."),
    },
)


def steps_for(case: Case, action: str, actor, step_id: int | None = None) -> list[Step]:
    """The steps of a locked case that `actor` may move by the step action `action`: in the action's
    source statuses and admitted by its rules (their organisations' steps). None:
    with `step_id` a field error, else Forbidden."""
    t = STEPS.transition(action)
    principal = actor_for(actor)
    qs = Step.objects.filter(case=case, status__in=t.sources).select_related("target")
    if step_id is not None:
        qs = qs.filter(pk=step_id)
    steps = []
    for s in qs:
        s.case = case
        if STEPS.role_allows(s, t, principal):
            steps.append(s)
    if not steps:
        if step_id is not None:
            raise field_error("step_id", _("No step of yours with this id is waiting for this action."))
        raise STEPS.refuse(None, action, actor)
    return steps


def move_step(step: Step, action: str, actor) -> Step:
    """One step move by the step table (the case's move records the timeline event)."""
    STEPS.require(step, action, actor)
    return STEPS.move(step, action, actor)


def step_markdown_table() -> str:
    """The step table as Markdown (docs/cases.md embeds it; a test keeps them equal)."""
    return STEPS.markdown_table()
