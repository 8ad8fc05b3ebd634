"""Input and output shapes of the cases API. The reporters' names and phones (the case's and those of
the cases merged into it) are masked in every response, for every role including the administrators,
unless the requesting user reported the case or revealed them (reveal=true, logged; see selectors)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Schema

from gridgov.core import notifications, worktime
from gridgov.core.dates import FilterDate
from gridgov.core.kernel_api import AttachmentOut  # noqa: F401  (the kernel's one photo schema)
from gridgov.core.pii import mask_name, mask_phone

CODE_PATTERN = r"^[0-9A-Za-z_-]{1,32}$"
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"  # no control characters except tab and newlines
LINE_PATTERN = r"^[^\x00-\x1f]*$"
ATTACHMENT_PATTERN = r"^[0-9a-f]{32}$"  # the id of an uploaded photo
NUMBER_PATTERN = r"^[0-9A-Za-z-]{1,24}$"
PHONE_PATTERN = r"^[0-9+\- ]*$"

KindName = Literal["demand", "hazard", "dispute", "petition", "alarm"]
ChannelName = Literal[
    "window", "hotline", "resident_app", "patrol", "building_head", "device", "external_api"
]
StatusName = Literal[
    "submitted",
    "accepted",
    "rejected",
    "community_handling",
    "whistled",
    "in_progress",
    "handled",
    "verified",
    "closed",
    "rated",
]
CrsName = Literal["wgs84", "gcj02", "bd09"]
AttachmentId = Annotated[str, Field(pattern=ATTACHMENT_PATTERN)]


# --- masking ----------------------------------------------------------------------------------------
# The reporter's name and phone are masked (core.pii, the registry's rule) except for the reporter
# themself and for a reader whose PII policy covers the case's area (community staff and grid workers of
# the area, phone grants; never the three administrators) who asked for them (`reveal=true`, logged).
def _viewer(context) -> Any:
    request = (context or {}).get("request")
    return getattr(request, "auth", None) if request is not None else None


def _unmasked(obj, context) -> bool:
    user = _viewer(context)
    if user is None:
        return False
    if getattr(obj, "reporter_id", None) is not None and obj.reporter_id == user.pk:
        return True
    return bool(getattr(obj, "contact_revealed", False))


# --- remaining working time ----------------------------------------------------------------------------
OPEN = {"submitted", "accepted", "community_handling", "whistled", "in_progress", "handled", "verified"}
OPEN_STEP = {"pending_report_in", "reported_in", "in_progress"}


def remaining_work_seconds(due: dt.datetime | None, now: dt.datetime | None = None) -> int | None:
    """Working seconds from now to `due` by the working calendar (core.worktime); negative once overdue
    (the working time since the deadline); None without a deadline."""
    if due is None:
        return None
    now = now or timezone.now()
    if due >= now:
        return int(worktime.working_seconds_between(now, due))
    return -int(worktime.working_seconds_between(due, now))


def work_day_seconds() -> int:
    """The length of one working day in seconds (the sum of the working periods)."""
    return int(sum(b - a for a, b in worktime.work_periods()))


# --- categories and whistle items ---------------------------------------------------------------------
class CategoryOut(Schema):
    code: str
    name: str
    kind: str
    parent_code: str | None = None
    open_condition: str
    close_condition: str
    department_code: str | None
    report_in_limit: int
    report_in_unit: str
    resolution_limit: int
    resolution_unit: str

    @staticmethod
    def resolve_department_code(obj) -> str | None:
        return obj.department_code or None

    @staticmethod
    def resolve_parent_code(obj) -> str | None:
        return obj.parent.code if obj.parent_id else None


class CategoryTreeOut(CategoryOut):
    children: list[CategoryOut] = []

    @staticmethod
    def resolve_children(obj) -> list:
        return getattr(obj, "child_list", [])


class WhistleItemOut(Schema):
    id: int
    group: str
    name: str
    department_codes: list[str]
    report_in_limit: int
    report_in_unit: str
    resolution_limit: int
    resolution_unit: str


# --- cases ------------------------------------------------------------------------------------------
class CaseFilters(Schema):
    """The filters and the order the case list and its Excel export share (GET /cases, /cases/export):
    the export writes the list as the user sees it."""

    status: list[StatusName] | None = None
    category: str | None = Field(None, pattern=CODE_PATTERN, description="category code or 大类 prefix")
    area: str | None = Field(None, pattern=CODE_PATTERN, description="area code: cases in its subtree")
    department: str | None = Field(None, pattern=CODE_PATTERN, description="organisation code of a step")
    overdue: bool | None = None
    channel: ChannelName | None = None
    created_from: FilterDate | None = None
    created_to: FilterDate | None = None
    todo: bool | None = Field(None, description="true: only cases waiting on you (your to-dos)")
    mine: bool | None = Field(None, description="true: only cases you reported or registered (我的上报)")
    order: Literal["created", "due"] = Field(
        "created", description="created: newest first; due: deadline first"
    )
    q: str | None = Field(
        None, max_length=100, pattern=LINE_PATTERN, description="case number or words of the text"
    )
    phone: str | None = Field(
        None, max_length=20, pattern=PHONE_PATTERN,
        description="a reporter's phone (keyed hash), the case's own or of a case merged into it",
    )  # fmt: skip


class CaseIn(Schema):
    description: str = Field(..., min_length=1, max_length=4000, pattern=TEXT_PATTERN)
    kind: KindName = "demand"
    channel: ChannelName | None = None
    lng: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    lat: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    crs: CrsName = "wgs84"
    area_code: str | None = Field(None, pattern=CODE_PATTERN)
    address: str = Field("", max_length=200, pattern=LINE_PATTERN)
    reporter_name: str = Field("", max_length=100, pattern=LINE_PATTERN)
    reporter_phone: str = Field("", max_length=20, pattern=PHONE_PATTERN)
    priority: Literal["normal", "urgent"] = "normal"
    category_code: str | None = Field(None, pattern=CODE_PATTERN)
    attachments: list[AttachmentId] = Field(default_factory=list, max_length=20)


class ActionIn(Schema):
    version: int = Field(..., ge=1, le=2**31 - 1)
    note: str = Field("", max_length=4000, pattern=TEXT_PATTERN)
    attachments: list[AttachmentId] | None = Field(None, max_length=20)
    departments: list[Annotated[str, Field(pattern=CODE_PATTERN)]] | None = Field(None, max_length=20)
    whistle_item_id: int | None = Field(None, ge=1, le=2**31 - 1)
    step_id: int | None = Field(None, ge=1, le=2**63 - 1)
    reason: str | None = Field(None, max_length=1000, pattern=TEXT_PATTERN)
    satisfaction: int | None = Field(
        None, ge=1, le=5, description="1–5; the return visit's labels: 满意 5, 基本满意 4, 不满意 1"
    )
    visit_method: Literal["phone", "visit", "app"] | None = Field(
        None, description="return_visit: how the reporter was asked (电话 / 上门 / in the app)"
    )
    reached: bool | None = Field(
        None,
        description="return_visit: false = 联系不上 (recorded, no rating, the case waits for another try)",
    )
    comment: str | None = Field(None, max_length=1000, pattern=TEXT_PATTERN)
    level: Literal["normal", "yellow", "red"] | None = None
    target_case_number: str | None = Field(None, pattern=NUMBER_PATTERN)
    category_code: str | None = Field(None, pattern=CODE_PATTERN)
    priority: Literal["normal", "urgent"] | None = None
    passed: bool | None = None
    closing_type: Literal["normal", "overdue", "error", "special"] | None = None
    until: dt.date | None = Field(None, description="defer: the date until which the case is deferred")


class StepOut(Schema):
    id: int
    kind: str
    status: str
    source_area_code: str | None = None
    target_code: str
    target_name: str
    report_in_due_at: dt.datetime | None
    reported_in_at: dt.datetime | None
    due_at: dt.datetime | None
    handled_at: dt.datetime | None
    overdue: bool
    supervision: str
    report_in_on_time: bool | None
    handled_on_time: bool | None
    rework_count: int
    feedback: str
    return_reason: str
    source_area_name: str | None = None
    current_due_at: dt.datetime | None = Field(
        None, description="the step's running deadline: report-in while waiting for it, else completion"
    )
    remaining_work_seconds: int | None = Field(
        None, description="working seconds to current_due_at (negative: overdue by); None when finished"
    )

    @staticmethod
    def resolve_source_area_code(obj) -> str | None:
        return obj.source_area.code if obj.source_area_id else None

    @staticmethod
    def resolve_source_area_name(obj) -> str | None:
        return obj.source_area.name if obj.source_area_id else None

    @staticmethod
    def resolve_current_due_at(obj) -> dt.datetime | None:
        if obj.status not in OPEN_STEP:
            return None
        return obj.report_in_due_at if obj.status == "pending_report_in" else obj.due_at

    @staticmethod
    def resolve_remaining_work_seconds(obj) -> int | None:
        return remaining_work_seconds(StepOut.resolve_current_due_at(obj))

    @staticmethod
    def resolve_target_code(obj) -> str:
        return obj.target.code

    @staticmethod
    def resolve_target_name(obj) -> str:
        return obj.target.name


class TimelineEventOut(Schema):
    id: int
    at: dt.datetime
    actor: str | None = None
    on_behalf_of: str | None = Field(
        None, description="the colleague on leave the actor stood in for (代班, AB岗); else null"
    )
    action: str
    from_status: str
    to_status: str
    note: str
    data: dict
    attachments: list
    department_names: list[str] = Field(
        [], description="the names of the organisations data.departments names"
    )

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return str(obj.actor) if obj.actor_id else None

    @staticmethod
    def resolve_on_behalf_of(obj) -> str | None:
        return str(obj.on_behalf_of) if obj.on_behalf_of_id else None

    @staticmethod
    def resolve_department_names(obj) -> list[str]:
        return getattr(obj, "department_names", None) or list((obj.data or {}).get("departments") or [])


class CaseOut(Schema):
    id: int
    number: str
    kind: str
    channel: str
    status: str
    version: int
    priority: str
    description: str
    reporter_name: str
    reporter_phone: str
    lng: float | None
    lat: float | None
    input_crs: str
    grid_code: str | None = None
    area_code: str
    address: str
    category_code: str | None = None
    category_name: str | None = None
    due_at: dt.datetime | None
    accepted_at: dt.datetime | None
    closed_at: dt.datetime | None
    holder_area_code: str | None = None
    holder_organisation_code: str | None = None
    merged_into_number: str | None = None
    closing_type: str
    rework_count: int
    supervision: str
    warning_level: str
    suspension_requested: bool
    suspended: bool
    deferred: bool
    deferred_until: dt.date | None
    satisfaction: int | None
    satisfaction_comment: str
    visit_method: str = Field("", description="how the return visit reached the reporter: phone, visit, app")
    visit_unreached: int = Field(0, description="return-visit attempts that could not reach the reporter")
    attachments: list
    created_at: dt.datetime
    updated_at: dt.datetime
    on_behalf_of: str = Field(
        "", description="in your to-dos: the colleague on leave whose to-do this is (代班, AB岗); else empty"
    )

    grid_name: str | None = None
    area_name: str = ""
    holder_area_name: str | None = None
    holder_organisation_name: str | None = None
    remaining_work_seconds: int | None = Field(
        None,
        description="working seconds to due_at (negative: overdue by); None when finished or no deadline",
    )
    work_day_seconds: int = Field(0, description="the working seconds of one working day (to show days)")
    closed_overdue: bool = Field(
        False, description="closed after its deadline (超期办结: a fact, not a warning)"
    )
    own_step_due_at: dt.datetime | None = Field(
        None,
        description="department handlers: their own open step's running deadline (report-in or completion)",
    )
    own_step_kind: Literal["report_in", "handle"] | None = None
    own_step_remaining_work_seconds: int | None = None
    own_step_status: str | None = Field(
        None, description="department handlers: the status of their own organisation's open step"
    )
    own_step_report_in_due_at: dt.datetime | None = Field(
        None, description="department handlers: their own open step's report-in deadline"
    )
    allowed_actions: list[str] | None = Field(
        None, description="with actions=true: the actions you may take now (as in the case's detail)"
    )

    @staticmethod
    def resolve_own_step_status(obj) -> str | None:
        return getattr(obj, "own_step_status", None)

    @staticmethod
    def resolve_own_step_report_in_due_at(obj) -> dt.datetime | None:
        return getattr(obj, "own_step_report_in_due_at", None)

    @staticmethod
    def resolve_allowed_actions(obj) -> list[str] | None:
        return getattr(obj, "allowed_actions", None)

    @staticmethod
    def resolve_on_behalf_of(obj) -> str:
        return getattr(obj, "on_behalf_of", "") or ""

    @staticmethod
    def resolve_grid_name(obj) -> str | None:
        return obj.grid.name if obj.grid_id else None

    @staticmethod
    def resolve_area_name(obj) -> str:
        return obj.area.name

    @staticmethod
    def resolve_holder_area_name(obj) -> str | None:
        return obj.holder_area.name if obj.holder_area_id else None

    @staticmethod
    def resolve_holder_organisation_name(obj) -> str | None:
        return obj.holder_organisation.name if obj.holder_organisation_id else None

    @staticmethod
    def resolve_remaining_work_seconds(obj) -> int | None:
        if obj.status not in OPEN:
            return None
        return remaining_work_seconds(obj.due_at)

    @staticmethod
    def resolve_work_day_seconds(obj) -> int:
        return work_day_seconds()

    @staticmethod
    def resolve_closed_overdue(obj) -> bool:
        return (
            bool(obj.status not in OPEN and obj.closed_at and obj.due_at and obj.closed_at > obj.due_at)
            or obj.closing_type == "overdue"
        )

    @staticmethod
    def resolve_own_step_due_at(obj) -> dt.datetime | None:
        status = getattr(obj, "own_step_status", None)
        if status is None:
            return None
        return obj.own_step_report_in_due_at if status == "pending_report_in" else obj.own_step_due_at

    @staticmethod
    def resolve_own_step_kind(obj) -> str | None:
        status = getattr(obj, "own_step_status", None)
        if status is None:
            return None
        return "report_in" if status == "pending_report_in" else "handle"

    @staticmethod
    def resolve_own_step_remaining_work_seconds(obj) -> int | None:
        return remaining_work_seconds(CaseOut.resolve_own_step_due_at(obj))

    @staticmethod
    def resolve_reporter_phone(obj, context) -> str:
        return obj.reporter_phone if _unmasked(obj, context) else mask_phone(obj.reporter_phone)

    @staticmethod
    def resolve_reporter_name(obj, context) -> str:
        return obj.reporter_name if _unmasked(obj, context) else mask_name(obj.reporter_name)

    @staticmethod
    def resolve_grid_code(obj) -> str | None:
        return obj.grid.code if obj.grid_id else None

    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_category_code(obj) -> str | None:
        return obj.category.code if obj.category_id else None

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.category.name if obj.category_id else None

    @staticmethod
    def resolve_holder_area_code(obj) -> str | None:
        return obj.holder_area.code if obj.holder_area_id else None

    @staticmethod
    def resolve_holder_organisation_code(obj) -> str | None:
        return obj.holder_organisation.code if obj.holder_organisation_id else None

    @staticmethod
    def resolve_merged_into_number(obj) -> str | None:
        return obj.merged_into.number if obj.merged_into_id else None


class ActionOut(Schema):
    """One action the user may take now, with the fields its form must fill (from the transition table)."""

    action: str
    required: list[str] = Field([], description="every one of these fields must have a value")
    one_of: list[list[str]] = Field([], description="at least one field of each group must have a value")


class MergedReporterOut(Schema):
    """The reporter of a case merged into this one (for the return visit): masked like the case's own
    reporter unless revealed with reveal=true (logged)."""

    case_number: str
    name: str
    phone: str
    has_account: bool = Field(description="the reporter is told of the outcome in the app")


class CaseDetailOut(CaseOut):
    revealable: list[str] = Field([], description="masked fields you may reveal with reveal=true")
    contact_logged: bool = Field(
        False,
        description="the reporter's contact is shown unmasked and this view was written to the access log",
    )
    merged_reporters: list[MergedReporterOut] = Field(
        [], description="reporters of the cases merged into this one, masked unless revealed (logged)"
    )
    steps: list[StepOut] = []
    timeline: list[TimelineEventOut] = []
    allowed_actions: list[str] = []
    actions: list[ActionOut] = Field([], description="allowed_actions with the fields each one requires")
    merged_reporter_count: int = 0

    @staticmethod
    def resolve_steps(obj) -> list:
        return getattr(obj, "step_list", [])

    @staticmethod
    def resolve_timeline(obj) -> list:
        return getattr(obj, "timeline_list", [])

    @staticmethod
    def resolve_allowed_actions(obj) -> list[str]:
        return getattr(obj, "allowed_actions", [])

    @staticmethod
    def resolve_contact_logged(obj) -> bool:
        return bool(getattr(obj, "contact_revealed", False))

    @staticmethod
    def resolve_revealable(obj) -> list[str]:
        return getattr(obj, "contact_revealable", [])

    @staticmethod
    def resolve_actions(obj) -> list[dict]:
        return getattr(obj, "action_list", [])

    @staticmethod
    def resolve_merged_reporters(obj) -> list[dict]:
        return getattr(obj, "merged_contacts", [])

    @staticmethod
    def resolve_merged_reporter_count(obj) -> int:
        return len(obj.merged_reporters or [])


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    case_id: int
    case_number: str
    data: dict
    created_at: dt.datetime
    read_at: dt.datetime | None

    @staticmethod
    def resolve_message(obj) -> str:
        return notifications.text_of(obj)

    @staticmethod
    def resolve_case_id(obj) -> int:
        return obj.owner_id

    @staticmethod
    def resolve_case_number(obj) -> str:
        return getattr(obj, "case_number", None) or obj.facts.get("number", "")

    @staticmethod
    def resolve_data(obj) -> dict:
        return obj.facts
