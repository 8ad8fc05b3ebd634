"""What cases tell the people who must act (in-app through the kernel's notifications, and the external
channels that are on): who is told of each move, and the text of each notice.

    whistle        a new whistle or dispatch (or a reassignment)  the handlers of each summoned department
    report_in_due  a step's report-in deadline passed (sla.py)    the dispatchers who whistled, and the
                                                                  current holder's dispatchers
    supervision    督办 / 黄牌 / 红牌 (`supervise`)               the handlers of the supervised open steps;
                                                                  without open steps, the holder's dispatchers
    escalation     `escalate`                                     the dispatchers of the new holder area
    returned       a department's 退回 (`return`)                 the dispatchers who sent it (the step's
                                                                  source area) and the current holder's
    rework         a failed on-site check (`verify` passed=false) the handlers of the reworked steps; the
                                                                  holder's community staff when the community
                                                                  handled it
    unsatisfied    a rating of 1–2 (`return_visit`)               the community staff of the case's community
                                                                  (a follow-up is opened for them)
    suspension     a request to suspend (`request_suspension`)    the subdistrict staff above the case, who
                                                                  approve it (the leaders above when the
                                                                  subdistrict has none)

Recipients are the active users holding the role in the right organisation or area (accounts'
memberships, the same records the principal is loaded from), never the person who made the move. Every
notice is written by `notify_many` in the move's own transaction (the outbox pattern), so a rolled-back
move leaves none. Texts are functions of the facts, rendered in the reader's language by the kernel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.cases.models import OPEN_STATUSES, Case, FollowUp, NotificationKind, Step, Supervision
from gridgov.core import notifications
from gridgov.territory import paths

HANDLER_ROLES = (Role.DEPARTMENT_HANDLER, Role.PARTNER_ORG)
DISPATCHER_ROLES = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)


# --- who -----------------------------------------------------------------------------------------------
def _members(q: Q) -> set[int]:
    return set(Membership.objects.filter(q, user__is_active=True).values_list("user_id", flat=True))


def handlers_of(org_ids: Iterable[int | None]) -> set[int]:
    """The department (and partner unit) handlers of the organisations."""
    orgs = {o for o in org_ids if o is not None}
    if not orgs:
        return set()
    return _members(Q(role__in=HANDLER_ROLES, organisation_id__in=orgs))


def dispatchers_of(area_ids: Iterable[int | None]) -> set[int]:
    """The dispatchers of the areas: community staff of a community, subdistrict staff and leaders of a
    subdistrict, leaders of the district (whoever holds a case at that level)."""
    areas = {a for a in area_ids if a is not None}
    if not areas:
        return set()
    return _members(Q(role__in=DISPATCHER_ROLES, area_id__in=areas))


def community_staff_of(case: Case) -> set[int]:
    """The community staff of the case's community."""
    community = paths.community_path(case.area.path)
    if not community:
        return set()
    return _members(Q(role=Role.COMMUNITY_STAFF, area__path=community))


def _local(when: dt.datetime | None) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else ""


def _summary(case: Case) -> str:
    text = " ".join((case.description or "").split())
    return text if len(text) <= 40 else text[:39] + "…"


def _who(actor) -> str:
    return (getattr(actor, "display_name", "") or getattr(actor, "username", "") or "").strip()


def _send(kind: str, recipients: set[int], facts: dict, case: Case, actor=None) -> int:
    """Write one notice per recipient (not to the actor), in the caller's transaction."""
    me = getattr(actor, "pk", None)
    users = sorted(u for u in recipients if u != me)
    notifications.notify_many([notifications.Notice(u, kind, facts, case) for u in users])
    return len(users)


def _base(case: Case) -> dict:
    return {"case": case.pk, "number": case.number, "summary": _summary(case)}


# --- the notices of the moves ----------------------------------------------------------------------------
def whistled(case: Case, steps: list[Step], actor) -> int:
    """A whistle, dispatch or reassignment: each new step's department is told to report in."""
    sent = 0
    for s in steps:
        facts = {
            **_base(case),
            "step_id": s.pk,
            "department": s.target.name,
            "report_in_due": _local(s.report_in_due_at),
            "due": _local(s.due_at),
        }
        sent += _send(NotificationKind.WHISTLE, handlers_of([s.target_id]), facts, case, actor)
    return sent


def report_in_due(case: Case, step: Step, users: set[int], at: dt.datetime) -> list[notifications.Notice]:
    """A step's report-in deadline passed without a report-in (the deadline sweep, once per step): the
    notices for `users` — the dispatchers who whistled and the current holder's (cases/sla.py loads them
    with its other recipients), to urge, supervise or reassign."""
    facts = {
        **_base(case),
        "step_id": step.pk,
        "department": step.target.name,
        "due": _local(step.report_in_due_at),
    }
    return [
        notifications.Notice(u, NotificationKind.REPORT_IN_DUE, facts, case, created_at=at)
        for u in sorted(users)
    ]


def supervised(case: Case, level: str, step_ids: list[int], actor, note: str) -> int:
    """督办 / 黄牌 / 红牌: against the departments of the supervised open steps, or (none open) the
    holder's dispatchers."""
    steps = list(Step.objects.filter(pk__in=step_ids).select_related("target"))
    if steps:
        recipients = handlers_of(s.target_id for s in steps)
        target = "、".join(dict.fromkeys(s.target.name for s in steps))
    else:
        recipients = dispatchers_of([case.holder_area_id])
        target = case.holder_area.name if case.holder_area_id else ""
    facts = {
        **_base(case),
        "level": level,
        "target": target,
        "by": _who(actor),
        "note": (note or "").strip(),
        "due": _local(case.due_at),
    }
    return _send(NotificationKind.SUPERVISION, recipients, facts, case, actor)


def escalated(case: Case, before, actor, reason: str) -> int:
    """升级: the dispatchers of the new holder area take the case over."""
    facts = {
        **_base(case),
        "from": before.name,
        "to": case.holder_area.name,
        "reason": (reason or "").strip(),
    }
    return _send(NotificationKind.ESCALATION, dispatchers_of([case.holder_area_id]), facts, case, actor)


def returned(case: Case, steps: list[Step], actor, reason: str) -> int:
    """退回: the dispatchers who sent the steps (their source area) and the current holder's."""
    facts = {
        **_base(case),
        "department": "、".join(dict.fromkeys(s.target.name for s in steps)),
        "reason": (reason or "").strip(),
    }
    areas = [s.source_area_id for s in steps] + [case.holder_area_id]
    return _send(NotificationKind.RETURNED, dispatchers_of(areas), facts, case, actor)


def reworked(case: Case, steps: list[Step], actor, reason: str) -> int:
    """返工: the handlers of the steps that go back to work; the community's staff when it handled the
    case itself."""
    if steps:
        recipients = handlers_of(s.target_id for s in steps)
    else:
        recipients = dispatchers_of([case.holder_area_id]) | community_staff_of(case)
    facts = {**_base(case), "reason": (reason or "").strip(), "rework": case.rework_count}
    return _send(NotificationKind.REWORK, recipients, facts, case, actor)


def unsatisfied(case: Case, actor) -> int:
    """不满意: the community's staff, who must follow the case up by `follow_up_due_at`."""
    facts = {
        **_base(case),
        "satisfaction": case.satisfaction,
        "comment": (case.satisfaction_comment or "").strip(),
        "due": _local(case.follow_up_due_at),
    }
    return _send(NotificationKind.UNSATISFIED, community_staff_of(case), facts, case, actor)


def suspension_requested(case: Case, actor, reason: str) -> int:
    """挂起申请: whoever approves it — the subdistrict staff above the case, else the leaders above."""
    above = paths.ancestor_paths(case.area.path)
    recipients = _members(Q(role=Role.SUBDISTRICT_STAFF, area__path__in=above)) or _members(
        Q(role=Role.LEADER, area__path__in=above)
    )
    facts = {**_base(case), "by": _who(actor), "reason": (reason or "").strip()}
    return _send(NotificationKind.SUSPENSION, recipients, facts, case, actor)


# --- texts (rendered by the kernel in the reader's language) ----------------------------------------------
def whistle_text(facts: dict) -> str:
    return (
        _(
            "New case %(number)s for %(department)s: %(summary)s. Report in by %(report_in_due)s and "
            "finish by %(due)s."
        )
        % facts
    )


def report_in_due_text(facts: dict) -> str:
    return (
        _(
            "Case %(number)s: %(department)s has not reported in by %(due)s. Urge them, issue a "
            "supervision card or reassign the case."
        )
        % facts
    )


def supervision_text(facts: dict) -> str:
    card = Supervision(facts["level"]).label if facts.get("level") in Supervision.values else facts["level"]
    values = {**facts, "card": str(card)}
    if facts.get("note"):
        return (
            _(
                "Case %(number)s: %(card)s against %(target)s by %(by)s: %(note)s. Act on it now and record the progress."
            )
            % values
        )
    return (
        _("Case %(number)s: %(card)s against %(target)s by %(by)s. Act on it now and record the progress.")
        % values
    )


def escalation_text(facts: dict) -> str:
    return _("Case %(number)s was escalated from %(from)s to %(to)s: %(reason)s. Dispatch it.") % facts


def returned_text(facts: dict) -> str:
    return (
        _(
            "Case %(number)s was returned by %(department)s: %(reason)s. Dispatch it again or handle it "
            "in the community."
        )
        % facts
    )


def rework_text(facts: dict) -> str:
    return (
        _("Case %(number)s failed the on-site check: %(reason)s. Redo the work and give feedback again.")
        % facts
    )


def unsatisfied_text(facts: dict) -> str:
    if facts.get("comment"):
        return (
            _(
                "Case %(number)s was rated unsatisfied (%(satisfaction)s of 5): %(comment)s. Follow it up "
                "by %(due)s and record what was done."
            )
            % facts
        )
    return (
        _(
            "Case %(number)s was rated unsatisfied (%(satisfaction)s of 5). Follow it up by %(due)s and "
            "record what was done."
        )
        % facts
    )


def suspension_text(facts: dict) -> str:
    return (
        _("Case %(number)s: %(by)s asks to suspend it: %(reason)s. Approve the suspension or refuse it.")
        % facts
    )


TEXTS = {
    NotificationKind.WHISTLE: whistle_text,
    NotificationKind.REPORT_IN_DUE: report_in_due_text,
    NotificationKind.SUPERVISION: supervision_text,
    NotificationKind.ESCALATION: escalation_text,
    NotificationKind.RETURNED: returned_text,
    NotificationKind.REWORK: rework_text,
    NotificationKind.UNSATISFIED: unsatisfied_text,
    NotificationKind.SUSPENSION: suspension_text,
}


def register() -> None:
    """Register the kinds with the kernel (cases/apps.py)."""
    for kind, text in TEXTS.items():
        notifications.register_kind(kind.value, text, label=kind.label)
    notifications.register_actionable(Case, still_open)


def still_open(case_ids: list[int]) -> set[int]:
    """The cases that still need someone's action: open, or rated with the follow-up of an unsatisfied
    rating still open (a notice about such a case, unread by a stand-in, goes back to the person who
    returns from leave: core.notifications.pass_on)."""
    rows = Case.objects.filter(pk__in=case_ids).filter(
        Q(status__in=OPEN_STATUSES) | Q(follow_up=FollowUp.OPEN)
    )
    return set(rows.values_list("pk", flat=True))
