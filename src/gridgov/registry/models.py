"""Actual population, houses and units (实有人口、房屋、单位): households, residents, units, care groups,
collection by building heads with review, import jobs, record history and the personal-information
access log.

ID numbers and phones are stored only encrypted (`*_enc`, key id in `pii_key`) with a keyed hash
(`*_hash`) for exact search; see vault.py and docs/registry.md. Every record belongs to a building, and
data scope follows the building's grid (`building__grid__path`).

The bookkeeping links of imported rows (`import_job`, `collected_by`) have no database constraint:
a constraint costs a trigger per row at commit, and Django still applies their on_delete rules.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.core.models import ChainedEvent
from gridgov.core.tabular.models import JobMode, JobPhase, JobStatus, TabularJob, TabularRowError


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("Registered (户籍)")
    FLOATING = "floating", _("Floating (流动)")
    TENANT = "tenant", _("Tenant (租住)")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    OTHER = "other", _("Other relative or co-resident")


class Source(models.TextChoices):
    MANUAL = "manual", _("Entered by staff")
    COLLECTION = "collection", _("Collected by a building head")
    IMPORT = "import", _("Imported")
    DEMO = "demo", _("Demo data")


class UnitKind(models.TextChoices):
    COMPANY = "company", _("Company")
    SHOP = "shop", _("Shop / individual business")
    ORGANISATION = "organisation", _("Organisation")


class CareGroup(models.TextChoices):
    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
    DISABLED = "disabled", _("Disabled")
    LOW_INCOME = "low_income", _("Minimum living allowance (低保)")
    LEFT_BEHIND_CHILD = "left_behind_child", _("Left-behind child")
    EXTREME_HARDSHIP = "extreme_hardship", _("Extreme hardship (特困)")
    SERIOUS_ILLNESS = "serious_illness", _("Serious illness")
    VETERAN = "veteran", _("Veteran or entitled group (优抚对象)")


class Household(models.Model):
    house = models.ForeignKey("territory.House", on_delete=models.PROTECT, related_name="registry_households")
    number = models.CharField(_("household number"), max_length=32, blank=True, default="")
    head = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    import_job = models.ForeignKey(
        "registry.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["house", "number"], name="household_unique_number")]

    def __str__(self) -> str:
        return f"household {self.pk} ({self.number or '—'})"


class Resident(models.Model):
    name = models.CharField(_("name"), max_length=50)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    birth_date = models.DateField(null=True, blank=True)
    id_enc = models.BinaryField(help_text="ID number, encrypted")
    id_hash = models.CharField(
        max_length=32, help_text="keyed hash of the ID number (unique among current residents: see Meta)"
    )
    phone_enc = models.BinaryField(null=True, blank=True, help_text="phone, encrypted")
    phone_hash = models.CharField(max_length=32, blank=True, default="")
    pii_key = models.CharField(max_length=16, help_text="id of the key of id_enc/phone_enc")
    residence_type = models.CharField(max_length=12, choices=ResidenceType.choices)
    moved_in = models.DateField(null=True, blank=True)
    moved_out = models.DateField(null=True, blank=True)
    relation = models.CharField(max_length=12, choices=Relation.choices, blank=True, default="")
    building = models.ForeignKey("territory.Building", on_delete=models.PROTECT, related_name="+")
    house = models.ForeignKey(
        "territory.House", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    import_job = models.ForeignKey(
        "registry.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_row = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        # Constraints and indexes in Meta, not unique=/db_index=: PostgreSQL then gets no extra
        # varchar_pattern_ops ("_like") index per hash, which an import would pay for on every row.
        constraints = [
            models.UniqueConstraint(fields=["import_job", "source_row"], name="resident_unique_import_row"),
            # One current record per person; a person who moved keeps their moved-out record elsewhere.
            models.UniqueConstraint(
                fields=["id_hash"],
                condition=models.Q(moved_out__isnull=True),
                name="resident_unique_current_id",
            ),
        ]
        indexes = [
            models.Index(fields=["phone_hash"], name="resident_phone_hash"),
            models.Index(fields=["id_hash"], name="resident_id_hash"),
        ]

    def __str__(self) -> str:
        return f"resident {self.pk}"


class Unit(models.Model):
    name = models.CharField(_("name"), max_length=100)
    credit_code = models.CharField(max_length=18, null=True, blank=True, unique=True)
    kind = models.CharField(max_length=16, choices=UnitKind.choices, default=UnitKind.COMPANY)
    address = models.CharField(max_length=200, blank=True, default="")
    building = models.ForeignKey("territory.Building", on_delete=models.PROTECT, related_name="+")
    house = models.ForeignKey(
        "territory.House", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contact_name = models.CharField(max_length=50, blank=True, default="")
    phone_enc = models.BinaryField(null=True, blank=True, help_text="contact phone, encrypted")
    phone_hash = models.CharField(max_length=32, blank=True, default="")
    pii_key = models.CharField(max_length=16, blank=True, default="")
    employees = models.PositiveIntegerField(default=0)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    import_job = models.ForeignKey(
        "registry.ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    source_row = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["import_job", "source_row"], name="unit_unique_import_row")
        ]
        indexes = [models.Index(fields=["phone_hash"], name="unit_phone_hash")]

    def __str__(self) -> str:
        return self.name


class CareMembership(models.Model):
    """A resident in a care group (关爱对象): sensitive (PIPL Art. 28), seen only by care roles."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="care_memberships")
    group = models.CharField(max_length=24, choices=CareGroup.choices, db_index=True)
    since = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["resident", "group"], name="care_unique_group")]

    def __str__(self) -> str:
        return f"care {self.group} of resident {self.resident_id}"


class SubmissionKind(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    UNIT = "unit", _("Unit")


class SubmissionAction(models.TextChoices):
    CREATE = "create", _("New record")
    UPDATE = "update", _("Change")
    MOVE_OUT = "move_out", _("Moved out")


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Submission(models.Model):
    """A record collected in the field (楼长采集), waiting for community staff to approve or reject it.
    The proposed values are encrypted as one JSON document (they hold ID numbers and phones)."""

    kind = models.CharField(max_length=12, choices=SubmissionKind.choices)
    action = models.CharField(max_length=12, choices=SubmissionAction.choices)
    status = models.CharField(
        max_length=12, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING, db_index=True
    )
    building = models.ForeignKey("territory.Building", on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField(null=True, blank=True, help_text="the record changed")
    base_version = models.PositiveIntegerField(null=True, blank=True)
    payload_enc = models.BinaryField()
    pii_key = models.CharField(max_length=16, db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")
    result_id = models.BigIntegerField(null=True, blank=True, help_text="the record created or changed")

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.kind} {self.action}, {self.status})"


class RecordHistory(ChainedEvent):
    """One change of a registry record (append-only): who, when, what changed (PII shown masked).
    Hash-chained, one chain per record ("record:<type>:<id>"), written through core.timeline.record()."""

    object_type = models.CharField(max_length=12)
    object_id = models.BigIntegerField()
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now, editable=False)
    changes = models.JSONField(default=dict, blank=True)
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")

    chain_prefix = "record"
    chain_fields = ("object_type", "object_id")
    hashed_fields = (
        "object_type",
        "object_id",
        "version",
        "action",
        "actor_id",
        "at",
        "changes",
        "submission_id",
        "note",
    )
    append_only_message = "the record history is append-only"

    class Meta:
        ordering = ["object_type", "object_id", "version", "id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="history_object")]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "chain_seq"], name="history_chain_seq"
            )
        ]


class ImportKind(models.TextChoices):
    RESIDENTS = "residents", _("Residents")
    HOUSES = "houses", _("Houses")
    UNITS = "units", _("Units")


ImportMode = JobMode
ImportStatus = JobStatus
ImportPhase = JobPhase


class ImportJob(TabularJob):
    """A registry import (see `gridgov.core.tabular.models.TabularJob`): its kind and the importer's area."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    area = models.ForeignKey(
        "territory.Area",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="the importer's own area, for scope",
    )  # fmt: skip

    class Meta(TabularJob.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.kind}, {self.status})"


class ImportRowError(TabularRowError):
    """One bad cell (or row) of a registry import."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")

    class Meta:
        ordering = ["job_id", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="import_error_row")]

    def __str__(self) -> str:
        return f"job {self.job_id} row {self.row} {self.column}"


class ImportedHouse(models.Model):
    """Houses made by an import job, so an all-or-nothing import can take them back."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+")
    house = models.ForeignKey("territory.House", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"job {self.job_id} house {self.house_id}"


class PiiField(models.TextChoices):
    PHONE = "phone", _("Phone numbers")
    ID_NUMBER = "id_number", _("ID numbers")
    CARE = "care", _("Care-group membership")


class PiiGrant(models.Model):
    """An explicit, audited permission to see one kind of personal information in an area's subtree,
    granted by the security administrator."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pii_grants")
    field = models.CharField(max_length=12, choices=PiiField.choices)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.field} grant to user {self.user_id} in area {self.area_id}"


class PiiAction(models.TextChoices):
    VIEW = "view", _("Unmasked view")
    EXPORT = "export", _("Export")
    SEARCH = "search", _("Search by ID number or phone")
    CARE_VIEW = "care_view", _("Care groups viewed")
    ERROR_FILE = "error_file", _("Error workbook downloaded")
    REVIEW = "review", _("Submission reviewed")
    REGISTER = "register", _("ID number registered or submitted (checked against the register)")


class PiiAccessLog(ChainedEvent):
    """Every unmasked read and every export of personal information (PIPL; 等保2.0 安全审计): who, when,
    which records, which fields, why, where from. Append-only; searched by the audit administrator.
    Hash-chained, one chain for the table ("pii"), written through core.timeline.record()."""

    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    user_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    username = models.CharField(max_length=150, blank=True, default="", db_index=True)
    action = models.CharField(max_length=12, choices=PiiAction.choices, db_index=True)
    object_type = models.CharField(max_length=16, blank=True, default="")
    object_refs = models.TextField(blank=True, default="", help_text=",id,id,…, (at most 1000)")
    count = models.PositiveIntegerField(default=0)
    fields = models.JSONField(default=list, blank=True)
    purpose = models.CharField(max_length=200, blank=True, default="")
    endpoint = models.CharField(max_length=200, blank=True, default="")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    chain_prefix = "pii"
    hashed_fields = (
        "at",
        "user_id_ref",
        "username",
        "action",
        "object_type",
        "object_refs",
        "count",
        "fields",
        "purpose",
        "endpoint",
        "source_ip",
        "detail",
    )
    append_only_message = "the personal-information access log is append-only"

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["chain_seq"], name="pii_log_chain_seq")]
