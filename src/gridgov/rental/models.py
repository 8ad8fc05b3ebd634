"""Rental housing (出租屋): rental houses on the territory's houses, their rooms and tenants, the inspection
checklist and the versioned grading rules as data, inspections (immutable) with their item results, and the
links from inspections to the cases they opened. Rules live in services.py; see docs/rental.md."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gridgov.core.tabular.models import TabularJob, TabularRowError


def new_code() -> str:
    """The stable public code of a rental house (一屋一码): a random UUID until the 25-digit address code
    of 《社会管理要素统一地址规范》 is known. It names the house, never a person."""
    return uuid.uuid4().hex


class Grade(models.TextChoices):
    RELAXED = "relaxed", _("Relaxed")  # 宽管 绿标
    WATCH = "watch", _("Watch")  # 关注 黄标
    STRICT = "strict", _("Strict")  # 严管 橙标
    PROHIBITED = "prohibited", _("Prohibited")  # 禁止 红标


# From mildest to strictest: "stricter" compares positions here.
GRADE_ORDER = (Grade.RELAXED, Grade.WATCH, Grade.STRICT, Grade.PROHIBITED)
COLOUR = {Grade.RELAXED: "green", Grade.WATCH: "yellow", Grade.STRICT: "orange", Grade.PROHIBITED: "red"}


class ItemGroup(models.TextChoices):
    HARDWARE = "hardware", _("Hardware and fire safety")
    COMPLIANCE = "compliance", _("Landlord compliance")
    HAZARDS = "hazards", _("Hazards")
    HYGIENE = "hygiene", _("Hygiene")


class Result(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    NOT_APPLICABLE = "na", _("Not applicable")


def in_language(name: str, name_en: str) -> str:
    """A name kept in data in the request's language: the English form when English is asked for and one is
    kept, else the Chinese (the default language)."""
    return name_en if name_en and not (get_language() or "zh-hans").startswith("zh") else name


class TenancyCategory(models.Model):
    """A tenancy category (整租 / 合租 / 群租 / 家庭旅馆 / 宿舍 …): a list in data, each with its own visit
    interval in days (none: the grade alone decides); the stricter of category and grade wins."""

    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=50)
    name_en = models.CharField(_("name in English"), max_length=80, blank=True, default="")
    visit_days = models.PositiveSmallIntegerField(null=True, blank=True)
    sort = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name_plural = "tenancy categories"

    def __str__(self) -> str:
        return self.name

    @property
    def local_name(self) -> str:
        return in_language(self.name, self.name_en)


class ChecklistItem(models.Model):
    """One item of the inspection checklist: its group, its weight in the score, and (when a failure is a
    hazard) the code of the case subcategory a failure opens a hazard case in."""

    code = models.CharField(max_length=16, unique=True)
    group = models.CharField(max_length=16, choices=ItemGroup.choices)
    name = models.CharField(max_length=100)
    name_en = models.CharField(_("name in English"), max_length=160, blank=True, default="")
    weight = models.PositiveSmallIntegerField(default=1)
    hazard_category_code = models.CharField(max_length=16, blank=True, default="")
    sort = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def local_name(self) -> str:
        return in_language(self.name, self.name_en)


class GradingRules(models.Model):
    """One version of the grading rules. Never edited: publishing new rules adds a version, and every
    inspection keeps the version it was graded by.

    thresholds: [{"min_score": 90, "grade": "relaxed"}, …] (the first whose min_score the score reaches);
    overrides: [{"code": "...", "name": "...", "grade": "strict", "items": [codes], "flags": [flags]}]
    (a failed item or a flag of the list forces at least that grade);
    visit_days: {grade: days}; red_grades and red_streak: that many red grades in a row open a
    rectification case."""

    version = models.PositiveIntegerField(unique=True)
    thresholds = models.JSONField()
    overrides = models.JSONField(default=list)
    visit_days = models.JSONField()
    red_grades = models.JSONField()
    red_streak = models.PositiveSmallIntegerField(default=3)
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "grading rules"

    def __str__(self) -> str:
        return f"v{self.version}"


class RentalHouse(models.Model):
    house = models.OneToOneField("territory.House", on_delete=models.PROTECT, related_name="rental")
    code = models.CharField(max_length=32, unique=True, default=new_code, editable=False)
    landlord_resident = models.ForeignKey(
        "registry.Resident", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    landlord_unit = models.ForeignKey(
        "registry.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(TenancyCategory, on_delete=models.PROTECT, related_name="houses")
    filing_number = models.CharField(_("filing number"), max_length=40, blank=True, default="")
    pledge_signed = models.BooleanField(default=False)
    pledge_date = models.DateField(null=True, blank=True)
    capacity_limit = models.PositiveSmallIntegerField(null=True, blank=True)
    rooms_count = models.PositiveIntegerField(default=0, help_text="cached count of rooms")
    tenants_count = models.PositiveIntegerField(default=0, help_text="cached count of current tenants")
    # Derived from the inspections (services.record_inspection); empty until the first one.
    grade = models.CharField(max_length=12, choices=Grade.choices, blank=True, default="", db_index=True)
    last_inspected_on = models.DateField(null=True, blank=True)
    next_due_on = models.DateField(null=True, blank=True, db_index=True)
    red_streak = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    import_job = models.ForeignKey(
        "rental.RentalImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_constraint=False, help_text="the import that registered it (an all-or-nothing import takes it back)",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(landlord_resident__isnull=True) | Q(landlord_unit__isnull=True),
                name="rental_one_landlord",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class RentalRoom(models.Model):
    rental_house = models.ForeignKey(RentalHouse, on_delete=models.CASCADE, related_name="rooms")
    number = models.CharField(max_length=10)
    capacity = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["rental_house_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rental_house", "number"], name="rental_room_unique"),
        ]

    def __str__(self) -> str:
        return self.number


class Tenancy(models.Model):
    """A registry resident living in a rental house (and room) from `since` until `until` (none: now)."""

    rental_house = models.ForeignKey(RentalHouse, on_delete=models.CASCADE, related_name="tenancies")
    room = models.ForeignKey(RentalRoom, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="+")
    since = models.DateField()
    until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["rental_house_id", "since"]
        verbose_name_plural = "tenancies"

    def __str__(self) -> str:
        return f"{self.rental_house_id}/{self.resident_id}"


class InspectionSource(models.TextChoices):
    INSPECTION = "inspection", _("Inspection")
    IMPORT = "import", _("Imported grading")


class Inspection(models.Model):
    """One inspection of a rental house, graded by one version of the rules; immutable once written. An
    imported grading (source `import`, 既有分级) carries the grade given before GridGov, without a score,
    item results or cases."""

    rental_house = models.ForeignKey(RentalHouse, on_delete=models.PROTECT, related_name="inspections")
    rules = models.ForeignKey(GradingRules, on_delete=models.PROTECT, related_name="inspections")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    inspected_on = models.DateField(db_index=True)
    flags = models.JSONField(default=list, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    grade = models.CharField(max_length=12, choices=Grade.choices)
    overrides_applied = models.JSONField(default=list, blank=True)
    next_due_on = models.DateField()
    note = models.CharField(max_length=500, blank=True, default="")
    client_id = models.CharField(max_length=64, blank=True, default="")
    # A database default too: writers of raw rows (the demo's bulk writer) need not name it.
    source = models.CharField(
        max_length=12, choices=InspectionSource.choices, default=InspectionSource.INSPECTION,
        db_default=InspectionSource.INSPECTION,
    )  # fmt: skip
    import_job = models.ForeignKey(
        "rental.RentalImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rental_house_id", "inspected_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inspector", "client_id"],
                condition=~Q(client_id=""),
                name="rental_inspection_client_id",
            ),
            models.CheckConstraint(
                condition=Q(source="import") | Q(score__isnull=False), name="rental_inspection_scored"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rental_house_id}@{self.inspected_on}"


class ItemResult(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="results")
    item = models.ForeignKey(ChecklistItem, on_delete=models.PROTECT, related_name="+")
    result = models.CharField(max_length=4, choices=Result.choices)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["inspection_id", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["inspection", "item"], name="rental_result_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.result}"


class CaseKind(models.TextChoices):
    HAZARD = "hazard", _("Hazard")
    RECTIFICATION = "rectification", _("Rectification")


class RentalCase(models.Model):
    """A case an inspection opened: a hazard case for a failed item, or the rectification case (整治) of
    the community after the red streak. One open hazard case per house and item at a time."""

    rental_house = models.ForeignKey(RentalHouse, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(max_length=16, choices=CaseKind.choices)
    inspection = models.ForeignKey(Inspection, on_delete=models.PROTECT, related_name="cases")
    item = models.ForeignKey(ChecklistItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="rental_link")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inspection", "item"], condition=Q(kind="hazard"), name="rental_hazard_case_once"
            ),
            models.UniqueConstraint(
                fields=["inspection"], condition=Q(kind="rectification"), name="rental_rectification_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.case_id}"


class RentalCount(models.Model):
    """Rental houses and rooms of one area per grade ('' = not yet graded) and tenancy category, kept for
    every level of the area tree (grid, block, community, subdistrict, district): each write that changes
    a house's grid, grade, category, rooms or activity adds its difference to the rows of the house's grid
    and of every area above it, in the same transaction (rental/counts.py). The figures read these rows
    instead of grouping the houses."""

    area = models.ForeignKey("territory.Area", on_delete=models.CASCADE, related_name="+")
    grade = models.CharField(max_length=12, blank=True, default="")
    category = models.ForeignKey(TenancyCategory, on_delete=models.CASCADE, related_name="+")
    houses = models.IntegerField(default=0)
    rooms = models.IntegerField(default=0)

    class Meta:
        ordering = ["area_id", "grade", "category_id"]
        constraints = [
            models.UniqueConstraint(fields=["area", "grade", "category"], name="rental_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.area_id}/{self.grade or '-'}/{self.category_id}: {self.houses}"


class ImportKind(models.TextChoices):
    HOUSES = "houses", _("Rental list")
    GRADINGS = "gradings", _("Existing gradings")


class RentalImportJob(TabularJob):
    """A rental import (see `gridgov.core.tabular.models.TabularJob`): the rental list (出租屋清单) or
    the existing gradings (既有分级), and the importer's area."""

    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    area = models.ForeignKey(
        "territory.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="the importer's own area, for scope",
    )  # fmt: skip

    class Meta(TabularJob.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"rental import {self.pk} ({self.kind}, {self.status})"


class RentalImportRowError(TabularRowError):
    """One bad cell (or row) of a rental import."""

    job = models.ForeignKey(RentalImportJob, on_delete=models.CASCADE, related_name="row_errors")

    class Meta:
        ordering = ["job_id", "row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="rental_import_error_row")]

    def __str__(self) -> str:
        return f"job {self.job_id} row {self.row} {self.column}"


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
class SiteKind(models.TextChoices):
    BUILDING = "building", _("Building")
    COMPOUND = "compound", _("Compound")


class CompoundType(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential compound")  # 小区
    VILLAGE = "village", _("Urban village")  # 城中村


class Compound(models.Model):
    """A named compound (小区 / 城中村) of a community and its buildings: the territory keeps buildings and
    areas but no compounds, so the star rating names them here."""

    name = models.CharField(max_length=100)
    type = models.CharField(max_length=12, choices=CompoundType.choices, default=CompoundType.RESIDENTIAL)
    community = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    buildings = models.ManyToManyField("territory.Building", blank=True, related_name="compounds")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["community_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["community", "name"], name="rental_compound_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class StarRules(models.Model):
    """One version of the star criteria and thresholds. Never edited: a new version is published, and
    every assessment keeps a copy of the criteria it was scored by.

    criteria: [{"code", "name", "name_en", "applies": "building"|"compound"|"both", "weight", "required"}]
    thresholds: [{"stars": 5, "min_score": 90}, …] from the most stars down (none reached: refused);
    validity_days: how long an award holds; review_notice_days: the review falls due that many days before
    the award ends."""

    version = models.PositiveIntegerField(unique=True)
    criteria = models.JSONField()
    thresholds = models.JSONField()
    validity_days = models.PositiveSmallIntegerField(default=365)
    review_notice_days = models.PositiveSmallIntegerField(default=30)
    note = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "star rules"

    def __str__(self) -> str:
        return f"v{self.version}"


class SiteStatus(models.TextChoices):
    UNRATED = "unrated", _("Not rated")
    AWARDED = "awarded", _("Awarded")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class StarSite(models.Model):
    """A building or a compound that applied for stars, with its current award (stars, from, until, when
    its review falls due). `path` is the area path it is read by: a building's grid, a compound's
    community."""

    kind = models.CharField(max_length=10, choices=SiteKind.choices)
    building = models.OneToOneField(
        "territory.Building", null=True, blank=True, on_delete=models.PROTECT, related_name="star_site"
    )
    compound = models.OneToOneField(
        Compound, null=True, blank=True, on_delete=models.PROTECT, related_name="star_site"
    )
    community = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=10, choices=SiteStatus.choices, default=SiteStatus.UNRATED)
    stars = models.PositiveSmallIntegerField(null=True, blank=True)
    awarded_on = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, db_index=True)
    review_due_on = models.DateField(null=True, blank=True, db_index=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="building", building__isnull=False, compound__isnull=True))
                | Q(kind="compound", compound__isnull=False, building__isnull=True),
                name="rental_star_site_one_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.building.address if self.building_id else self.compound.name  # type: ignore[union-attr]


class ApplicationKind(models.TextChoices):
    APPLICATION = "application", _("Application")
    REVIEW = "review", _("Review")


class ApplicationStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    ASSESSED = "assessed", _("Assessed")
    AWARDED = "awarded", _("Awarded")
    REFUSED = "refused", _("Refused")
    CLOSED = "closed", _("Closed")


OPEN_APPLICATION = (ApplicationStatus.APPLIED, ApplicationStatus.ASSESSED)


class StarApplication(models.Model):
    """An application for stars (or a review of an award): applied → assessed → awarded, or refused by
    its assessment; closed when the site is withdrawn meanwhile. One open application per site."""

    site = models.ForeignKey(StarSite, on_delete=models.PROTECT, related_name="applications")
    kind = models.CharField(max_length=12, choices=ApplicationKind.choices)
    status = models.CharField(
        max_length=10, choices=ApplicationStatus.choices, default=ApplicationStatus.APPLIED
    )
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["site_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site"], condition=Q(status__in=["applied", "assessed"]), name="rental_star_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}/{self.kind}/{self.status}"


class StarAssessment(models.Model):
    """The scores of one application, by the rules version of its day: the criteria are copied here, so a
    later change of the criteria leaves the assessment as it was. stars: none when refused."""

    application = models.OneToOneField(StarApplication, on_delete=models.PROTECT, related_name="assessment")
    rules = models.ForeignKey(StarRules, on_delete=models.PROTECT, related_name="assessments")
    criteria = models.JSONField()
    scores = models.JSONField()
    score = models.DecimalField(max_digits=5, decimal_places=1)
    stars = models.PositiveSmallIntegerField(null=True, blank=True)
    unmet_required = models.JSONField(default=list, blank=True)
    assessor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.stars}"


class StepAction(models.TextChoices):
    APPLY = "apply", _("Applied")
    REVIEW = "review", _("Review opened")
    ASSESS = "assess", _("Assessed")
    AWARD = "award", _("Awarded")
    REFUSE = "refuse", _("Refused")
    WITHDRAW = "withdraw", _("Withdrawn")


class StarStep(models.Model):
    """The history of a star site: who did what when, the stars before and after, and why."""

    site = models.ForeignKey(StarSite, on_delete=models.CASCADE, related_name="steps")
    application = models.ForeignKey(
        StarApplication, null=True, blank=True, on_delete=models.SET_NULL, related_name="steps"
    )
    action = models.CharField(max_length=10, choices=StepAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    stars_before = models.PositiveSmallIntegerField(null=True, blank=True)
    stars_after = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["site_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.site_id} {self.action}"
