"""Cases (诉求/事件/案件): categories with their 立案/结案 standards, the whistle catalogue, cases, the steps
of the units handling them, and the append-only timeline. The workflow lives in `workflow.py`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.core import pii
from gridgov.core.models import Event


class TimeUnit(models.TextChoices):
    HOURS = "hours", _("Working hours")
    DAYS = "days", _("Working days")


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("Component (部件)")
    EVENT = "event", _("Event (事件)")
    GOVERNANCE = "governance", _("Community governance")


class Category(models.Model):
    """A two-level tree: 大类 (parent null) and 小类, each 小类 with its standards as data."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=CategoryKind.choices, db_index=True)
    open_condition = models.TextField(_("condition to open a case"), blank=True, default="")
    close_condition = models.TextField(_("condition to close a case"), blank=True, default="")
    department_code = models.CharField(
        _("responsible department (organisation code)"), max_length=32, blank=True, default=""
    )
    report_in_limit = models.PositiveIntegerField(default=2)
    report_in_unit = models.CharField(max_length=8, choices=TimeUnit.choices, default=TimeUnit.HOURS)
    resolution_limit = models.PositiveIntegerField(default=5)
    resolution_unit = models.CharField(max_length=8, choices=TimeUnit.choices, default=TimeUnit.DAYS)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WhistleItem(models.Model):
    """An item of the whistle catalogue (吹哨事项): what a community may whistle for, the departments
    that must report in, and the limits. Departments are kept as organisation codes so the catalogue
    can be seeded before the organisations exist."""

    group = models.CharField(_("category"), max_length=50, db_index=True)
    name = models.CharField(max_length=100)
    department_codes = models.JSONField(default=list, blank=True)
    report_in_limit = models.PositiveIntegerField(default=2)
    report_in_unit = models.CharField(max_length=8, choices=TimeUnit.choices, default=TimeUnit.HOURS)
    resolution_limit = models.PositiveIntegerField(default=5)
    resolution_unit = models.CharField(max_length=8, choices=TimeUnit.choices, default=TimeUnit.DAYS)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["group", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="whistle_item_unique")]

    def __str__(self) -> str:
        return f"{self.group} · {self.name}"


class CaseKind(models.TextChoices):
    DEMAND = "demand", _("Demand")
    HAZARD = "hazard", _("Hazard")
    DISPUTE = "dispute", _("Dispute")
    PETITION = "petition", _("Petition")
    ALARM = "alarm", _("Alarm")


class Channel(models.TextChoices):
    WINDOW = "window", _("Service window")
    HOTLINE = "hotline", _("Hotline")
    RESIDENT_APP = "resident_app", _("Resident app")
    PATROL = "patrol", _("Patrol")
    BUILDING_HEAD = "building_head", _("Building head")
    DEVICE = "device", _("Device")
    EXTERNAL_API = "external_api", _("External system")


class Priority(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    COMMUNITY_HANDLING = "community_handling", _("Handled by the community")
    WHISTLED = "whistled", _("Whistled to departments")
    IN_PROGRESS = "in_progress", _("In progress")
    HANDLED = "handled", _("Handled")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")
    RATED = "rated", _("Rated")


OPEN_STATUSES = (
    Status.SUBMITTED,
    Status.ACCEPTED,
    Status.COMMUNITY_HANDLING,
    Status.WHISTLED,
    Status.IN_PROGRESS,
    Status.HANDLED,
    Status.VERIFIED,
)


class ClosingType(models.TextChoices):
    NORMAL = "normal", _("Normal")
    OVERDUE = "overdue", _("Overdue")
    ERROR = "error", _("Error")
    SPECIAL = "special", _("Special")


class Supervision(models.TextChoices):
    NONE = "none", _("None")
    NORMAL = "normal", _("Ordinary supervision")
    YELLOW = "yellow", _("Yellow card")
    RED = "red", _("Red card")


class VisitMethod(models.TextChoices):
    PHONE = "phone", _("Phone call")
    VISIT = "visit", _("Home visit")
    APP = "app", _("In the app")


class WarningLevel(models.TextChoices):
    """The deadline warning last raised (时限预警): yellow at 80 % of the working time, red when overdue."""

    NONE = "none", _("None")
    YELLOW = "yellow", _("Yellow warning")
    RED = "red", _("Overdue")


class FollowUp(models.TextChoices):
    """The follow-up an unsatisfied rating opens for the community (回访不满意跟进)."""

    NONE = "", _("None")
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


# A rating at or below this is 不满意 (1–5: 1–2 unsatisfied, 3 fair, 4–5 satisfied).
UNSATISFIED_MAX = 2


class Case(models.Model):
    number = models.CharField(max_length=24, unique=True)
    kind = models.CharField(max_length=16, choices=CaseKind.choices, default=CaseKind.DEMAND)
    channel = models.CharField(max_length=16, choices=Channel.choices, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_cases",
    )
    reporter_name = models.CharField(max_length=100, blank=True, default="")
    # The reporter's phone, encrypted at rest (core.pii): ciphertext, the keyed hash for exact search, the
    # id of the key that sealed it (and the merged reporters' phones). Read and set through `reporter_phone`.
    reporter_phone_enc = models.BinaryField(null=True, blank=True)
    reporter_phone_hash = models.CharField(max_length=32, blank=True, default="", db_index=True)
    pii_key = models.CharField(max_length=16, blank=True, default="")
    description = models.TextField()
    lng = models.FloatField(null=True, blank=True, help_text="WGS-84")
    lat = models.FloatField(null=True, blank=True, help_text="WGS-84")
    input_crs = models.CharField(max_length=8, default="wgs84")
    # The grid located from the point, and the area the case belongs to: the grid, or the area named
    # at intake when the point lies outside every grid. Data scope filters on `area`.
    grid = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=200, blank=True, default="")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    version = models.PositiveIntegerField(default=1)
    accepted_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    holder_organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    holder_area = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases"
    )
    # Reporters of cases merged into this one: [{"case": number, "reporter_id", "name", "phone_sealed"}],
    # the phone sealed by `seal_merged_phone` (never in plain text).
    merged_reporters = models.JSONField(default=list, blank=True)
    closing_type = models.CharField(max_length=8, choices=ClosingType.choices, blank=True, default="")
    rework_count = models.PositiveSmallIntegerField(default=0)
    supervision = models.CharField(max_length=8, choices=Supervision.choices, default=Supervision.NONE)
    # The warning last raised for `due_at` by the deadline sweep (cases/sla.py).
    warning_level = models.CharField(max_length=8, choices=WarningLevel.choices, default=WarningLevel.NONE)
    suspension_requested = models.BooleanField(default=False)
    suspended = models.BooleanField(default=False)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_working_seconds = models.FloatField(default=0.0)
    # 缓办: approved deferral of a case that cannot be finished in time for an objective reason
    # (funds, season, planning); out of the denominators of the close rates (cases/figures.py).
    deferred = models.BooleanField(default=False)
    deferred_until = models.DateField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    satisfaction_comment = models.TextField(blank=True, default="")
    # An unsatisfied rating opens a follow-up the community must close (action `follow_up`).
    follow_up = models.CharField(max_length=8, choices=FollowUp.choices, blank=True, default="")
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    # The return visit (回访): how the reporter was asked, and the attempts that could not reach them
    # (联系不上: recorded on the timeline, no rating, the case stays closed for another try).
    visit_method = models.CharField(max_length=8, choices=VisitMethod.choices, blank=True, default="")
    visit_unreached = models.PositiveSmallIntegerField(default=0)
    attachments = models.JSONField(default=list, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="case_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="case_satisfaction_1_5",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="case_status_due")]

    def __str__(self) -> str:
        return self.number

    # --- the reporter's phone, sealed at rest --------------------------------------------------------
    @property
    def reporter_phone(self) -> str:
        """The reporter's phone in plain text (decrypted on first use; mask it for output)."""
        cached = self.__dict__.get("_reporter_phone")
        if cached is None:
            cached = pii.decrypt(self.reporter_phone_enc, self.pii_key, REPORTER_PHONE_FIELD)
            self.__dict__["_reporter_phone"] = cached
        return cached

    @reporter_phone.setter
    def reporter_phone(self, value: str) -> None:
        value = (value or "").strip()
        self.__dict__["_reporter_phone"] = value
        if value:
            self.reporter_phone_enc, key_id = pii.encrypt(value, REPORTER_PHONE_FIELD)
            self.reporter_phone_hash = pii.blind_index(value)
            self.pii_key = key_id
        else:
            self.reporter_phone_enc, self.reporter_phone_hash = None, ""

    def reseal(self, key) -> tuple[str, ...]:
        """Re-encrypt the reporter's phone and the merged reporters' phones with `key` (key rotation);
        returns the columns that changed."""
        phone = self.reporter_phone
        if phone:
            self.reporter_phone_enc = pii.encrypt(phone, REPORTER_PHONE_FIELD, key)[0]
        self.merged_reporters = [
            {**r, "phone_sealed": seal_merged_phone(merged_phone(r), key)}
            for r in self.merged_reporters or []
        ]
        self.pii_key = key.id
        return ("reporter_phone_enc", "merged_reporters", "pii_key")


REPORTER_PHONE_FIELD = "case.reporter_phone"
MERGED_PHONE_FIELD = "case.merged_reporter_phone"


def seal_merged_phone(phone: str, key=None) -> dict:
    """A merged reporter's phone as stored in `Case.merged_reporters` (ciphertext, key id, keyed hash)."""
    return pii.seal_json((phone or "").strip(), MERGED_PHONE_FIELD, key)


def merged_phone(reporter: dict) -> str:
    """The plain phone of one entry of `Case.merged_reporters`."""
    return pii.open_json(reporter.get("phone_sealed"), MERGED_PHONE_FIELD)


class StepKind(models.TextChoices):
    WHISTLE = "whistle", _("Whistle")
    DISPATCH = "dispatch", _("Dispatch")
    ESCALATION = "escalation", _("Escalation")


class StepStatus(models.TextChoices):
    PENDING_REPORT_IN = "pending_report_in", _("Waiting for report-in")
    REPORTED_IN = "reported_in", _("Reported in")
    IN_PROGRESS = "in_progress", _("In progress")
    HANDLED = "handled", _("Handled")
    RETURNED = "returned", _("Returned")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STEP_STATUSES = (
    StepStatus.PENDING_REPORT_IN,
    StepStatus.REPORTED_IN,
    StepStatus.IN_PROGRESS,
    StepStatus.HANDLED,
)
OPEN_STEP_STATUSES = (StepStatus.PENDING_REPORT_IN, StepStatus.REPORTED_IN, StepStatus.IN_PROGRESS)


class Step(models.Model):
    """One unit handling a case: source (organisation or area) → target organisation, with deadlines,
    the overdue flag, the supervision level, and the on-time flags kept for the department evaluation."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.WHISTLE)
    source_organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_area = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="case_steps")
    whistle_item = models.ForeignKey(
        WhistleItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING_REPORT_IN, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    report_in_due_at = models.DateTimeField(null=True, blank=True)
    reported_in_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    supervision = models.CharField(max_length=8, choices=Supervision.choices, default=Supervision.NONE)
    # The warnings last raised by the deadline sweep (cases/sla.py): report-in and completion.
    report_in_warning = models.CharField(
        max_length=8, choices=WarningLevel.choices, default=WarningLevel.NONE
    )
    warning_level = models.CharField(max_length=8, choices=WarningLevel.choices, default=WarningLevel.NONE)
    report_in_on_time = models.BooleanField(null=True, blank=True)
    handled_on_time = models.BooleanField(null=True, blank=True)
    rework_count = models.PositiveSmallIntegerField(default=0)
    feedback = models.TextField(blank=True, default="")
    return_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["case_id", "id"]
        indexes = [models.Index(fields=["target", "status"], name="step_target_status")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.target_id} ({self.status})"


class TimelineEvent(Event):
    """One change to a case: who, when, from → to, note, data, attachments. Append-only and hash-chained,
    one chain per case ("case:<id>"): written through core.timeline.record()."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="timeline")
    attachments = models.JSONField(default=list, blank=True)
    # AB岗: the colleague on leave the actor stood in for (代班), when only the memberships the actor
    # held for them allowed the move; null when the actor acted in their own right
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    chain_prefix = "case"
    chain_fields = ("case_id",)
    hashed_fields = (*Event.hashed_fields, "case_id", "attachments")
    hashed_if_set = ("on_behalf_of_id",)
    append_only_message = "the case timeline is append-only"

    class Meta:
        ordering = ["case_id", "at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "chain_seq"], name="case_timeline_chain_seq")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action} {self.from_status}→{self.to_status}"


class NotificationKind(models.TextChoices):
    """The notification kinds cases registers with the core notifications (cases/apps.py)."""

    DEADLINE_YELLOW = "deadline_yellow", _("Deadline near (80 per cent of the time used)")
    DEADLINE_RED = "deadline_red", _("Deadline passed")
    OUTCOME = "outcome", _("Outcome of a reported case")
    WHISTLE = "whistle", _("New case for your department")
    REPORT_IN_DUE = "report_in_due", _("A department has not reported in")
    SUPERVISION = "supervision", _("Supervision card")
    ESCALATION = "escalation", _("Case escalated to you")
    RETURNED = "returned", _("Case returned by a department")
    REWORK = "rework", _("Case sent back for rework")
    UNSATISFIED = "unsatisfied", _("Unsatisfied rating: follow up")
    SUSPENSION = "suspension", _("Suspension to approve")
