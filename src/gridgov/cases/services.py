"""Every write to cases: intake and one function per workflow action, one transaction each.

Each action: the case must be visible to the actor (NotFound), `workflow.take` locks it and bumps the
version atomically (Conflict on a stale version), `workflow.check` applies the transition table
(Conflict for the wrong status, Forbidden for the wrong person), the input is validated
(ValidationFailed with field errors), then the case and its steps change and one TimelineEvent is
written by `workflow.move`.
"""

from __future__ import annotations

import datetime as dt
import inspect
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.accounts.models import Organisation
from gridgov.accounts.roles import Role
from gridgov.cases import notices, selectors, workflow
from gridgov.cases.models import (
    ACTIVE_STEP_STATUSES,
    OPEN_STATUSES,
    OPEN_STEP_STATUSES,
    UNSATISFIED_MAX,
    Case,
    CaseKind,
    Category,
    Channel,
    ClosingType,
    FollowUp,
    NotificationKind,
    Priority,
    Status,
    Step,
    StepKind,
    StepStatus,
    Supervision,
    TimelineEvent,
    WarningLevel,
    WhistleItem,
    merged_phone,
    seal_merged_phone,
)
from gridgov.core import attachments as attachments_kernel
from gridgov.core import notifications, timeline, worktime
from gridgov.core.errors import FieldErrors, Forbidden, NotFound, field_error
from gridgov.core.models import Attachment
from gridgov.territory import geo, locator, paths
from gridgov.territory.models import Area

DEFAULT_REPORT_IN = (2, "hours")
DEFAULT_RESOLUTION = (5, "days")
FOLLOW_UP_LIMIT = (3, "days")  # an unsatisfied rating's follow-up: within 3 working days
# Who reports on someone's behalf (window, hotline). Not the administrators: they hold no business
# actions (三权分立); a system administrator may only try the device and external channels.
STAFF = (Role.COMMUNITY_STAFF, Role.SUBDISTRICT_STAFF, Role.LEADER)


def seed_categories() -> tuple[int, int]:
    """Create or update the seeded categories and whistle catalogue (idempotent)."""
    from gridgov.cases.seed import seed

    with transaction.atomic():
        return seed(Category, WhistleItem)


# --- helpers ----------------------------------------------------------------------------------------
def _deadline(start, limit: int, unit: str):
    return worktime.add_working_time(start, limit, unit)


def _roles(actor) -> set[str]:
    return workflow.actor_for(actor).roles


def _begin(action: str, case_id: int, version: int, actor) -> Case:
    if not selectors.visible_cases(actor).filter(pk=case_id).exists():
        raise NotFound(_("Nothing here, or it is outside your area."))
    case = workflow.take(case_id, version)
    workflow.check(case, action, actor)
    return case


def _status_from_steps(case: Case) -> str:
    active = list(
        Step.objects.filter(case=case, status__in=ACTIVE_STEP_STATUSES).values_list("status", flat=True)
    )
    if not active:
        return Status.ACCEPTED
    if all(s == StepStatus.HANDLED for s in active):
        return Status.HANDLED
    if any(s != StepStatus.PENDING_REPORT_IN for s in active):
        return Status.IN_PROGRESS
    return Status.WHISTLED


def _limits(case: Case, item: WhistleItem | None):
    src = item or case.category
    if src is None:
        return DEFAULT_REPORT_IN, DEFAULT_RESOLUTION
    return (src.report_in_limit, src.report_in_unit), (src.resolution_limit, src.resolution_unit)


def _departments(codes: list[str], field: str = "departments") -> list[Organisation]:
    codes = list(dict.fromkeys(codes))
    found = {
        o.code: o
        for o in Organisation.objects.filter(
            code__in=codes, is_active=True, kind__in=["department", "partner"]
        )
    }
    missing = [c for c in codes if c not in found]
    if missing:
        raise field_error(field, _("Unknown department: %(codes)s") % {"codes": ", ".join(missing)})
    return [found[c] for c in codes]


def _new_step(case: Case, target: Organisation, kind: str, item: WhistleItem | None, now) -> Step:
    (ri, ri_unit), (res, res_unit) = _limits(case, item)
    return Step.objects.create(
        case=case,
        kind=kind,
        source_area=case.holder_area,
        target=target,
        whistle_item=item,
        report_in_due_at=_deadline(now, ri, ri_unit),
        due_at=_deadline(now, res, res_unit),
    )


# --- intake -----------------------------------------------------------------------------------------
def _channel_allowed(channel: str, roles: set[str], via_token: bool) -> bool:
    if channel == Channel.RESIDENT_APP:
        return True
    if channel in (Channel.DEVICE, Channel.EXTERNAL_API):
        return via_token or Role.ADMIN in roles
    if channel == Channel.PATROL:
        return bool(roles & {Role.GRID_WORKER, Role.BLOCK_CHIEF, *STAFF})
    if channel == Channel.BUILDING_HEAD:
        return bool(roles & {Role.BUILDING_HEAD, *STAFF})
    return bool(roles & set(STAFF))  # window, hotline


def _default_channel(roles: set[str], via_token: bool) -> str:
    if via_token:
        return Channel.EXTERNAL_API
    if roles & set(STAFF):
        return Channel.WINDOW
    if roles & {Role.GRID_WORKER, Role.BLOCK_CHIEF}:
        return Channel.PATROL
    if Role.BUILDING_HEAD in roles:
        return Channel.BUILDING_HEAD
    return Channel.RESIDENT_APP


def intake(
    *,
    actor,
    description: str,
    kind: str = CaseKind.DEMAND,
    channel: str | None = None,
    lng: float | None = None,
    lat: float | None = None,
    crs: str = geo.CRS_WGS84,
    area_code: str | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    priority: str = Priority.NORMAL,
    category_code: str | None = None,
    attachments: list[str] | None = None,
    idempotency_key: str = "",
    via_token: bool = False,
) -> tuple[Case, bool]:
    """Create a case (status submitted, timeline "submit"). Returns (case, created): with an
    idempotency key already used by the same creator, the existing case and False."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden()
    key = (idempotency_key or "").strip()
    if key:
        existing = Case.objects.filter(created_by=actor, idempotency_key=key).first()
        if existing is not None:
            return existing, False
    roles = _roles(actor)
    errors = FieldErrors()
    channel = channel or _default_channel(roles, via_token)
    if channel not in Channel.values:
        errors.add("channel", _("Choose one of the allowed values"))
    elif not _channel_allowed(channel, roles, via_token):
        errors.add("channel", _("You may not report through this channel."))
    elif channel in (Channel.WINDOW, Channel.HOTLINE) and not (reporter_name or "").strip():
        errors.add("reporter_name", _("Give the name of the person reporting."))
    if kind not in CaseKind.values:
        errors.add("kind", _("Choose one of the allowed values"))
    if not (description or "").strip():
        errors.add("description", _("Describe the problem."))
    category = None
    if category_code:
        category = Category.objects.filter(code=category_code, is_active=True, parent__isnull=False).first()
        if category is None:
            errors.add("category_code", _("There is no such subcategory."))

    grid = None
    wgs = None
    if (lng is None) != (lat is None):
        errors.add("lat" if lat is None else "lng", _("Give both longitude and latitude."))
    elif lng is not None:
        try:
            w_lng, w_lat = geo.to_wgs84(lng, lat, crs)
            wgs = (float(w_lng), float(w_lat))
        except ValueError:
            errors.add("crs", _("Choose one of the allowed values"))
        else:
            grid = locator.locate(wgs[0], wgs[1])
    area = grid
    if area is None and area_code:
        area = Area.objects.filter(code=area_code, is_active=True).first()
        if area is None:
            errors.add("area_code", _("There is no area with this code."))
    if area is None and not errors.items:
        if wgs is not None:
            errors.add("lng", _("The point lies outside every grid; give an area code as well."))
        else:
            errors.add("lng", _("Give the location (longitude and latitude) or an area code."))
    errors.raise_if_any()

    reporter = None
    if (
        channel in (Channel.RESIDENT_APP, Channel.PATROL, Channel.BUILDING_HEAD)
        and not (reporter_name or "").strip()
    ):
        reporter = actor
        reporter_name = actor.display_name or actor.username
        reporter_phone = reporter_phone or actor.phone
    elif channel == Channel.RESIDENT_APP:
        reporter = actor

    try:
        with transaction.atomic():
            case = Case.objects.create(
                number=f"TMP-{uuid.uuid4().hex[:20]}",
                kind=kind,
                channel=channel,
                created_by=actor,
                reporter=reporter,
                reporter_name=(reporter_name or "").strip(),
                reporter_phone=(reporter_phone or "").strip(),
                description=description.strip(),
                lng=wgs[0] if wgs else None,
                lat=wgs[1] if wgs else None,
                input_crs=crs,
                grid=grid,
                area=area,
                address=address or "",
                category=category,
                priority=priority,
                holder_area=paths.community_of(area),
                attachments=list(dict.fromkeys(attachments or [])),
                idempotency_key=key,
            )
            case.number = f"GG{timezone.localtime(case.created_at):%Y%m%d}-{case.pk:06d}"
            Case.objects.filter(pk=case.pk).update(number=case.number)
            if attachments:
                workflow.claim_attachments(case, actor, list(attachments))
            workflow.record(
                case,
                "submit",
                actor,
                from_status="",
                note="",
                data={"channel": channel, "grid": grid.code if grid else None, "area": area.code},
                attachments=list(attachments or []),
            )
    except IntegrityError:
        if not key:
            raise
        existing = Case.objects.filter(created_by=actor, idempotency_key=key).first()
        if existing is None:
            raise
        return existing, False
    return case, True


# --- actions ----------------------------------------------------------------------------------------
@transaction.atomic
def accept(*, case_id, version, actor, category_code=None, priority=None, note="", attachments=None):
    case = _begin("accept", case_id, version, actor)
    if category_code:
        category = Category.objects.filter(code=category_code, is_active=True, parent__isnull=False).first()
        if category is None:
            raise field_error("category_code", _("There is no such subcategory."))
        case.category = category
    elif case.category is None:
        raise field_error("category_code", _("Choose the subcategory of the case."))
    if priority:
        if priority not in Priority.values:
            raise field_error("priority", _("Choose one of the allowed values"))
        case.priority = priority
    now = timezone.now()
    case.accepted_at = now
    case.due_at = _deadline(now, case.category.resolution_limit, case.category.resolution_unit)
    return workflow.move(
        case,
        "accept",
        actor,
        note=note,
        attachments=attachments,
        data={"category": case.category.code, "due_at": case.due_at.isoformat()},
    )


@transaction.atomic
def reject(*, case_id, version, actor, reason="", note="", attachments=None):
    case = _begin("reject", case_id, version, actor)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason."))
    case.closed_at = timezone.now()
    told = _tell_reporters(case, "reject", reason=reason)
    return workflow.move(
        case,
        "reject",
        actor,
        note=note or reason,
        data={"reason": reason, "informed": told},
        attachments=attachments,
    )


@transaction.atomic
def merge(*, case_id, version, actor, target_case_number="", note="", attachments=None):
    case = _begin("merge", case_id, version, actor)
    if not target_case_number:
        raise field_error("target_case_number", _("Give the number of the case to merge into."))
    target = (
        Case.objects.select_for_update(of=("self",))
        .select_related("area")
        .filter(number=target_case_number)
        .first()
    )
    if target is None or not selectors.visible_cases(actor).filter(pk=target.pk).exists():
        raise field_error("target_case_number", _("There is no case with this number."))
    if target.pk == case.pk:
        raise field_error("target_case_number", _("A case cannot be merged into itself."))
    if target.status not in OPEN_STATUSES or target.merged_into_id or target.status == Status.SUBMITTED:
        raise field_error("target_case_number", _("The target case must be accepted and still open."))
    if paths.community_path(target.area.path) != paths.community_path(case.area.path):
        raise field_error("target_case_number", _("The target case must be in the same community."))
    reporter = {
        "case": case.number,
        "reporter_id": case.reporter_id,
        "name": case.reporter_name,
        "phone_sealed": seal_merged_phone(case.reporter_phone),
    }
    Case.objects.filter(pk=target.pk).update(
        merged_reporters=[*target.merged_reporters, reporter], version=F("version") + 1
    )
    workflow.record(
        target, "merge_in", actor, from_status=target.status, note=note, data={"case": case.number}
    )
    case.merged_into = target
    case.closing_type = ClosingType.SPECIAL
    case.closed_at = timezone.now()
    told = _tell_reporters(case, "merge", target=target.number)
    return workflow.move(
        case,
        "merge",
        actor,
        note=note,
        data={"target": target.number, "informed": told},
        attachments=attachments,
    )


@transaction.atomic
def community_handle(*, case_id, version, actor, note="", attachments=None):
    case = _begin("community_handle", case_id, version, actor)
    case.holder_organisation = None
    return workflow.move(case, "community_handle", actor, note=note, attachments=attachments)


@transaction.atomic
def whistle(*, case_id, version, actor, departments=None, whistle_item_id=None, note="", attachments=None):
    case = _begin("whistle", case_id, version, actor)
    item = None
    if whistle_item_id is not None:
        item = WhistleItem.objects.filter(pk=whistle_item_id, is_active=True).first()
        if item is None:
            raise field_error("whistle_item_id", _("There is no whistle item with this id."))
    kind = StepKind.WHISTLE
    if departments:
        targets = _departments(departments)
    elif item is not None:
        targets = list(Organisation.objects.filter(code__in=item.department_codes, is_active=True))
        if not targets:
            raise field_error("departments", _("Name the departments: none of the item's departments exist."))
    elif case.category is not None and case.category.department_code:
        targets = _departments([case.category.department_code])
        kind = StepKind.DISPATCH
    else:
        raise field_error("departments", _("Name at least one department or a whistle item."))
    now = timezone.now()
    steps = [_new_step(case, t, kind, item, now) for t in targets]
    latest = max(s.due_at for s in steps)
    if case.due_at is None or latest > case.due_at:
        case.due_at = latest
    case.holder_organisation = targets[0] if len(targets) == 1 else None
    case = workflow.move(
        case,
        "whistle",
        actor,
        note=note,
        attachments=attachments,
        data={
            "departments": [t.code for t in targets],
            "whistle_item": item.pk if item else None,
            "due_at": case.due_at.isoformat(),
        },
    )
    notices.whistled(case, steps, actor)
    return case


@transaction.atomic
def report_in(*, case_id, version, actor, step_id=None, note="", attachments=None):
    case = _begin("report_in", case_id, version, actor)
    now = timezone.now()
    steps = workflow.steps_for(case, "report_in", actor, step_id)
    for s in steps:
        s.reported_in_at = now
        s.report_in_on_time = s.report_in_due_at is None or now <= s.report_in_due_at
        workflow.move_step(s, "report_in", actor)
    return workflow.move(
        case,
        "report_in",
        actor,
        status=_status_from_steps(case),
        note=note,
        attachments=attachments,
        data={
            "steps": [s.pk for s in steps],
            "on_time": [s.report_in_on_time for s in steps],
            "departments": [s.target.code for s in steps],
        },
    )


@transaction.atomic
def handle(*, case_id, version, actor, step_id=None, note="", attachments=None):
    case = _begin("handle", case_id, version, actor)
    if not (note or "").strip():
        raise field_error("note", _("Describe how the case was handled."))
    if case.status == Status.COMMUNITY_HANDLING:
        return workflow.move(case, "handle", actor, note=note, attachments=attachments)
    now = timezone.now()
    steps = workflow.steps_for(case, "handle", actor, step_id)
    for s in steps:
        s.handled_at = now
        s.handled_on_time = s.due_at is None or now <= s.due_at
        s.overdue = not s.handled_on_time
        s.feedback = note
        workflow.move_step(s, "handle", actor)
    return workflow.move(
        case,
        "handle",
        actor,
        status=_status_from_steps(case),
        note=note,
        attachments=attachments,
        data={
            "steps": [s.pk for s in steps],
            "on_time": [s.handled_on_time for s in steps],
            "departments": [s.target.code for s in steps],
        },
    )


@transaction.atomic
def return_step(*, case_id, version, actor, step_id=None, reason="", note="", attachments=None):
    case = _begin("return", case_id, version, actor)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason."))
    steps = workflow.steps_for(case, "return", actor, step_id)
    for s in steps:
        s.return_reason = reason
        workflow.move_step(s, "return", actor)
    status = _status_from_steps(case)
    if status == Status.ACCEPTED:
        case.holder_organisation = None
    case = workflow.move(
        case,
        "return",
        actor,
        status=status,
        note=note or reason,
        attachments=attachments,
        data={
            "steps": [s.pk for s in steps],
            "reason": reason,
            "departments": [s.target.code for s in steps],
        },
    )
    notices.returned(case, steps, actor, reason)
    return case


@transaction.atomic
def reassign(*, case_id, version, actor, step_id=None, departments=None, note="", attachments=None):
    case = _begin("reassign", case_id, version, actor)
    errors = FieldErrors()
    old = (
        Step.objects.filter(case=case, pk=step_id, status__in=workflow.STEPS.transition("cancel").sources)
        .select_related("target", "whistle_item")
        .first()
        if step_id is not None
        else None
    )
    if old is None:
        errors.add("step_id", _("Choose an open step of this case."))
    if not departments or len(departments) != 1:
        errors.add("departments", _("Name exactly one department."))
    errors.raise_if_any()
    (target,) = _departments(departments)
    if Step.objects.filter(case=case, target=target, status__in=OPEN_STEP_STATUSES).exists():
        raise field_error("departments", _("This department already has an open step on the case."))
    old.case = case
    workflow.move_step(old, "cancel", actor)
    new = _new_step(case, target, old.kind, old.whistle_item, timezone.now())
    if case.holder_organisation_id == old.target_id:
        case.holder_organisation = target
    case = workflow.move(
        case,
        "reassign",
        actor,
        status=_status_from_steps(case),
        note=note,
        attachments=attachments,
        data={"from": old.target.code, "to": target.code, "step": new.pk},
    )
    notices.whistled(case, [new], actor)
    return case


@transaction.atomic
def verify(*, case_id, version, actor, passed=None, note="", attachments=None):
    case = _begin("verify", case_id, version, actor)
    if passed is None:
        raise field_error("passed", _("Say whether the check on site passed."))
    if passed:
        return workflow.move(case, "verify", actor, note=note, attachments=attachments, data={"passed": True})
    if not (note or "").strip():
        raise field_error("note", _("Say what failed the check: the handler must know what to redo."))
    case.rework_count += 1
    steps = list(Step.objects.filter(case=case, status__in=workflow.STEPS.transition("rework").sources))
    for s in steps:
        s.case = case
        s.rework_count += 1
        s.handled_at = None
        s.handled_on_time = None
        workflow.move_step(s, "rework", actor)
    status = Status.IN_PROGRESS if steps else Status.COMMUNITY_HANDLING
    case = workflow.move(
        case,
        "verify",
        actor,
        status=status,
        note=note,
        attachments=attachments,
        data={"passed": False, "rework": case.rework_count, "steps": [s.pk for s in steps]},
    )
    notices.reworked(case, steps, actor, note)
    return case


@transaction.atomic
def close(*, case_id, version, actor, closing_type=None, reason="", note="", attachments=None):
    case = _begin("close", case_id, version, actor)
    now = timezone.now()
    if closing_type in (ClosingType.ERROR, ClosingType.SPECIAL):
        if Role.LEADER not in _roles(actor):
            raise workflow.CASES.refuse(case, "close", actor, _("Only a leader may set this closing type."))
        if not (reason or "").strip():
            raise field_error("reason", _("Give the reason."))
        case.closing_type = closing_type
    elif closing_type not in (None, "", ClosingType.NORMAL, ClosingType.OVERDUE):
        raise field_error("closing_type", _("Choose one of the allowed values"))
    else:
        overdue = case.due_at is not None and now > case.due_at
        case.closing_type = ClosingType.OVERDUE if overdue else ClosingType.NORMAL
    case.closed_at = now
    told = _tell_reporters(case, "close", outcome=_outcome(case))
    return workflow.move(
        case,
        "close",
        actor,
        note=note or reason,
        attachments=attachments,
        data={"closing_type": case.closing_type, "reason": reason, "informed": told},
    )


@transaction.atomic
def return_visit(
    *, case_id, version, actor, satisfaction=None, comment="", note="", attachments=None,
    visit_method=None, reached=None,
):  # fmt: skip
    """The return visit (回访): the rating (满意 5 / 基本满意 4 / 不满意 1, or 1–5 stars from the reporter)
    and how the reporter was asked (电话 / 上门, which the desktop form requires; the reporter's own
    rating: in the app). Staff who cannot reach the reporter record it (reached=false, 联系不上): no
    rating, the case stays closed for another try, and the attempt is counted. An unsatisfied rating
    (不满意) opens a follow-up the community must close (action `follow_up`) and tells the community."""
    case = _begin("return_visit", case_id, version, actor)
    by = "reporter" if case.reporter_id == actor.pk else "staff"
    method = visit_method or ("app" if by == "reporter" else "")
    if by == "staff" and method and method not in ("phone", "visit"):
        raise field_error("visit_method", _("Say how the reporter was asked: by phone or a home visit."))
    if reached is False:
        if method not in ("phone", "visit"):
            raise field_error("visit_method", _("Say how the reporter was asked: by phone or a home visit."))
        if by == "reporter":
            raise field_error("reached", _("Only staff record that the reporter could not be reached."))
        if satisfaction is not None:
            raise field_error("satisfaction", _("No rating when the reporter could not be reached."))
        case.visit_unreached += 1
        case.visit_method = method
        return workflow.move(
            case,
            "return_visit",
            actor,
            status=Status.CLOSED,
            note=note or comment,
            attachments=attachments,
            data={"reached": False, "method": method, "attempt": case.visit_unreached, "by": by},
        )
    if satisfaction is None or not 1 <= int(satisfaction) <= 5:
        raise field_error("satisfaction", _("Rate from 1 to 5."))
    case.satisfaction = int(satisfaction)
    case.satisfaction_comment = comment or ""
    case.visit_method = method
    data: dict[str, Any] = {"satisfaction": case.satisfaction, "by": by, "method": method, "reached": True}
    unsatisfied = case.satisfaction <= UNSATISFIED_MAX
    if unsatisfied:  # 不满意: a follow-up the community must close (action follow_up)
        case.follow_up = FollowUp.OPEN
        case.follow_up_due_at = _deadline(timezone.now(), *FOLLOW_UP_LIMIT)
        data["follow_up_due_at"] = case.follow_up_due_at.isoformat()
    case = workflow.move(
        case, "return_visit", actor, note=note or comment, attachments=attachments, data=data
    )
    if unsatisfied:
        notices.unsatisfied(case, actor)
    return case


@transaction.atomic
def follow_up(*, case_id, version, actor, note="", attachments=None):
    """Close the follow-up an unsatisfied rating opened: what the community did about it (the status stays
    rated)."""
    case = _begin("follow_up", case_id, version, actor)
    if not (note or "").strip():
        raise field_error("note", _("Describe what was done to follow the case up."))
    case.follow_up = FollowUp.DONE
    on_time = case.follow_up_due_at is None or timezone.now() <= case.follow_up_due_at
    return workflow.move(
        case, "follow_up", actor, note=note, attachments=attachments, data={"follow_up_on_time": on_time}
    )


@transaction.atomic
def supervise(*, case_id, version, actor, level=None, step_id=None, note="", attachments=None):
    case = _begin("supervise", case_id, version, actor)
    if level not in (Supervision.NORMAL, Supervision.YELLOW, Supervision.RED):
        raise field_error("level", _("Choose one of the allowed values"))
    steps = Step.objects.filter(case=case, status__in=OPEN_STEP_STATUSES)
    if step_id is not None:
        steps = steps.filter(pk=step_id)
    ids = list(steps.values_list("pk", flat=True))
    Step.objects.filter(pk__in=ids).update(supervision=level)
    case.supervision = level
    case = workflow.move(
        case, "supervise", actor, note=note, attachments=attachments, data={"level": level, "steps": ids}
    )
    notices.supervised(case, level, ids, actor, note)
    return case


@transaction.atomic
def escalate(*, case_id, version, actor, reason="", note="", attachments=None):
    case = _begin("escalate", case_id, version, actor)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason."))
    before = case.holder_area
    case.holder_area = Area.objects.get(pk=before.parent_id)
    case = workflow.move(
        case,
        "escalate",
        actor,
        note=note or reason,
        attachments=attachments,
        data={
            "reason": reason,
            "from": before.code,
            "to": case.holder_area.code,
            "level": case.holder_area.level,
        },
    )
    notices.escalated(case, before, actor, reason)
    return case


@transaction.atomic
def request_suspension(*, case_id, version, actor, reason="", note="", attachments=None):
    case = _begin("request_suspension", case_id, version, actor)
    if not (reason or "").strip():
        raise field_error("reason", _("Give the reason."))
    case.suspension_requested = True
    case = workflow.move(
        case,
        "request_suspension",
        actor,
        note=note or reason,
        attachments=attachments,
        data={"reason": reason},
    )
    notices.suspension_requested(case, actor, reason)
    return case


@transaction.atomic
def suspend(*, case_id, version, actor, note="", attachments=None):
    case = _begin("suspend", case_id, version, actor)
    case.suspension_requested = False
    case.suspended = True
    case.suspended_at = timezone.now()
    return workflow.move(case, "suspend", actor, note=note, attachments=attachments)


@transaction.atomic
def add_note(*, case_id, version, actor, note="", attachments=None):
    case = _begin("note", case_id, version, actor)
    if not (note or "").strip():
        raise field_error("note", _("Write the note."))
    return workflow.move(case, "note", actor, note=note, attachments=attachments)


@transaction.atomic
def defer(*, case_id, version, actor, reason="", until=None, note="", attachments=None):
    case = _begin("defer", case_id, version, actor)
    errors = FieldErrors()
    if not (reason or "").strip():
        errors.add("reason", _("Give the reason."))
    today = timezone.localdate()
    if until is None:
        errors.add("until", _("Give the date until which the case is deferred."))
    elif until <= today or until > today + dt.timedelta(days=366):
        errors.add("until", _("Choose a date after today and within a year."))
    errors.raise_if_any()
    new_due = worktime.end_of_working_day(until)
    if new_due <= case.due_at:
        raise field_error("until", _("Choose a date after the current deadline."))
    before = case.due_at
    case.deferred = True
    case.deferred_until = until
    case.due_at = new_due
    case.warning_level = WarningLevel.NONE
    for s in Step.objects.filter(case=case, status__in=OPEN_STEP_STATUSES):
        if s.due_at is None or s.due_at < new_due:
            s.due_at = new_due
            s.warning_level = WarningLevel.NONE
            s.save(update_fields=["due_at", "warning_level"])
    return workflow.move(
        case,
        "defer",
        actor,
        note=note or reason,
        attachments=attachments,
        data={
            "reason": reason,
            "until": until.isoformat(),
            "previous_due_at": before.isoformat(),
            "due_at": new_due.isoformat(),
        },
    )


@transaction.atomic
def resume(*, case_id, version, actor, note="", attachments=None):
    case = _begin("resume", case_id, version, actor)
    now = timezone.now()
    seconds = worktime.working_seconds_between(case.suspended_at, now) if case.suspended_at else 0.0
    hours = seconds / 3600.0

    def shift(when):
        return worktime.add_working_time(when, hours, "hours") if when and hours > 0 else when

    case.due_at = shift(case.due_at)
    for s in Step.objects.filter(case=case, status__in=OPEN_STEP_STATUSES):
        if s.status == StepStatus.PENDING_REPORT_IN:
            s.report_in_due_at = shift(s.report_in_due_at)
        s.due_at = shift(s.due_at)
        s.save()
    case.suspended = False
    case.suspended_at = None
    case.suspended_working_seconds += seconds
    return workflow.move(
        case,
        "resume",
        actor,
        note=note,
        attachments=attachments,
        data={
            "suspended_working_seconds": seconds,
            "due_at": case.due_at.isoformat() if case.due_at else None,
        },
    )


# --- grids redrawn ----------------------------------------------------------------------------------------
def follow_new_grids(*, actor, old_grids, new_grids, successor: dict, proposal_id: int) -> int:
    """After a re-division is adopted (territory.signals.grids_redrawn, cases/receivers.py): every open case of an old grid moves to
    the new grid that contains its point (else to the old grid's successor), with a new version and a
    `regrid` timeline event. Runs inside the adoption's transaction. Returns how many cases moved."""
    import shapely

    now = timezone.now()
    for _grid, geom in new_grids:
        shapely.prepare(geom)
    moved = 0
    cases = (
        Case.objects.select_for_update(of=("self",))
        .select_related("grid")
        .filter(grid__in=old_grids, status__in=OPEN_STATUSES)
    )
    for case in cases:
        target = None
        if case.lng is not None:
            point = shapely.Point(case.lng, case.lat)
            target = next((grid for grid, geom in new_grids if geom.contains(point)), None)
        target = target or successor.get(case.grid_id)
        if target is None or target.pk == case.grid_id:
            continue
        before = case.grid.code
        fields = {"grid": target, "version": F("version") + 1, "updated_at": now}
        if case.area_id == case.grid_id:
            fields["area"] = target
        Case.objects.filter(pk=case.pk).update(**fields)
        timeline.record(
            TimelineEvent,
            case=case,
            at=now,
            actor=actor,
            action="regrid",
            from_status=case.status,
            to_status=case.status,
            note=_("The grid was redrawn: %(from)s → %(to)s") % {"from": before, "to": target.code},
            data={"from": before, "to": target.code, "proposal": proposal_id},
        )
        moved += 1
    return moved


# --- telling reporters --------------------------------------------------------------------------------
OUTCOME_MESSAGES = {
    "reject": gettext_lazy("Your report %(number)s was not taken up: %(reason)s"),
    "merge": gettext_lazy(
        "Your report %(number)s concerns the same problem as case %(target)s; they are handled "
        "together and you will be told the outcome."
    ),
    "close": gettext_lazy("Your report %(number)s has been dealt with and closed. %(outcome)s"),
}


def _outcome(case: Case) -> str:
    """What was done: the last handling note of the case."""
    note = (
        TimelineEvent.objects.filter(case=case, action="handle")
        .order_by("-at", "-id")
        .values_list("note", flat=True)
        .first()
    )
    return (note or "").strip()


def outcome_text(facts: dict) -> str:
    """The text of an outcome notification (kind `outcome`), in the current language."""
    return str(OUTCOME_MESSAGES[facts["action"]]) % facts


def outcome_notices(case: Case, action: str, status: str, **facts) -> tuple[list[notifications.Notice], int]:
    """The outcome notices for the reporter of the case and the reporters of every case merged into it
    (those with an account), each about the reporter's own case; and how many reporters are known only
    by a phone number (counted for the return visit call)."""
    reports = [(case.number, case.reporter_id, case.reporter_phone)]
    reports += [(r.get("case"), r.get("reporter_id"), merged_phone(r)) for r in case.merged_reporters or []]
    numbers = [n for n, _uid, _phone in reports if n]
    own = dict(Case.objects.filter(number__in=numbers).values_list("number", "pk"))
    notes, seen, by_phone = [], set(), 0
    for number, user_id, phone in reports:
        if user_id is None:
            by_phone += bool(phone)
            continue
        if user_id in seen:
            continue
        seen.add(user_id)
        about = {"case": number, "number": number, "outcome_case": case.number, "status": status}
        notes.append(
            notifications.Notice(
                user_id,
                NotificationKind.OUTCOME,
                {**about, "action": action, **facts},
                Case(pk=own.get(number, case.pk)),
            )
        )
    return notes, by_phone


def _tell_reporters(case: Case, action: str, **facts) -> dict[str, int]:
    """Notify the reporters (in-app, and on the external channels that are on), in this transaction.
    Returns {"in_app": n, "by_phone": m}."""
    notes, by_phone = outcome_notices(case, action, case.status, **facts)
    notifications.notify_many(notes)
    return {"in_app": len(notes), "by_phone": by_phone}


# --- photos -------------------------------------------------------------------------------------------
PHOTO_PURPOSE = "cases.photo"


def upload_attachment(*, actor, file) -> Attachment:
    """Keep an uploaded photo of a case (core attachments: JPEG, PNG or WebP read from its bytes, with
    a thumbnail) for a later intake or action. Too large → TooLarge (413); not a photo →
    ValidationFailed (field `file`)."""
    return attachments_kernel.upload(actor=actor, file=file, purpose=PHOTO_PURPOSE)


def mark_notification_read(*, actor, notification_id: int) -> None:
    """Mark one of the actor's own notifications read (again: unchanged). Another's → NotFound."""
    notifications.mark_read(actor=actor, notification_id=notification_id)


SERVICES = {
    "accept": accept,
    "reject": reject,
    "merge": merge,
    "community_handle": community_handle,
    "whistle": whistle,
    "report_in": report_in,
    "handle": handle,
    "return": return_step,
    "reassign": reassign,
    "verify": verify,
    "close": close,
    "return_visit": return_visit,
    "follow_up": follow_up,
    "supervise": supervise,
    "escalate": escalate,
    "request_suspension": request_suspension,
    "suspend": suspend,
    "note": add_note,
    "defer": defer,
    "resume": resume,
}
assert set(SERVICES) == set(workflow.TRANSITIONS), "every action of the table has a service"


def perform(action: str, *, case_id: int, version: int, actor, fields: dict[str, Any]) -> Case:
    """Run the service of `action` with the fields it takes (others are ignored)."""
    workflow.transition(action)  # NotFound for an unknown action
    fn = SERVICES[action]
    accepted = set(inspect.signature(fn).parameters)
    kwargs = {k: v for k, v in fields.items() if k in accepted and v is not None}
    return fn(case_id=case_id, version=version, actor=actor, **kwargs)
