"""Input and output shapes of the rental API. The public page's shape has no field about a person."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Schema
from pydantic import StringConstraints

from gridgov.core import pii
from gridgov.core.dates import AwareDateTime
from gridgov.rental.models import COLOUR, Grade, Result

LINE = r"^[^\x00-\x1f]*$"
CODE = r"^[0-9A-Za-z_-]{1,32}$"
GradeName = Literal["relaxed", "watch", "strict", "prohibited"]
GradeFilter = Literal["relaxed", "watch", "strict", "prohibited", "ungraded"]
DueFilter = Literal["due", "overdue"]
ResultName = Literal["pass", "fail", "na"]
FlagName = Literal["refused", "group_rental_suspected"]
ImportKindName = Literal["houses", "gradings"]
ImportModeName = Literal["all_or_nothing", "valid_rows"]


class RentalHouseOut(Schema):
    id: int
    code: str
    address: str
    grid: str
    category: str
    category_name: str
    grade: str
    colour: str | None
    rooms_count: int
    tenants_count: int
    capacity_limit: int | None
    last_inspected_on: dt.date | None
    next_due_on: dt.date | None
    overdue: bool
    red_streak: int

    @staticmethod
    def resolve_address(obj) -> str:
        return str(obj.house)

    @staticmethod
    def resolve_grid(obj) -> str:
        return obj.house.building.grid.code

    @staticmethod
    def resolve_category(obj) -> str:
        return obj.category.code

    @staticmethod
    def resolve_category_name(obj) -> str:
        return obj.category.local_name

    @staticmethod
    def resolve_colour(obj) -> str | None:
        return COLOUR[Grade(obj.grade)] if obj.grade else None

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return bool(obj.next_due_on and obj.next_due_on < timezone.localdate())


class RentalCaseLinkOut(Schema):
    """A link from a rental house (or an inspection) to a case it opened, named by the case."""

    id: int
    number: str
    kind: str = Field(description="hazard or rectification")
    status: str

    @staticmethod
    def resolve_id(obj) -> int:
        return obj.case_id

    @staticmethod
    def resolve_number(obj) -> str:
        return obj.case.number

    @staticmethod
    def resolve_status(obj) -> str:
        return obj.case.status


class TenancyCategoryOut(Schema):
    code: str
    name: str = Field(description="in the request's language (Chinese when no English name is kept)")
    visit_days: int | None

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.local_name


class InspectionOut(Schema):
    id: int
    inspected_on: dt.date
    source: str = Field(
        description="inspection, or import: a grading imported from an earlier list (no score)"
    )
    score: float | None = Field(description="null for an imported grading")
    grade: str
    rules_version: int
    overrides_applied: list[str]
    flags: list[str]
    next_due_on: dt.date
    failed: list[str]
    cases: list[RentalCaseLinkOut] = Field(description="the cases this inspection opened")

    @staticmethod
    def resolve_score(obj) -> float | None:
        return None if obj.score is None else float(obj.score)

    @staticmethod
    def resolve_rules_version(obj) -> int:
        return obj.rules.version

    @staticmethod
    def resolve_failed(obj) -> list[str]:
        return [r.item.code for r in obj.results.all() if r.result == Result.FAIL]

    @staticmethod
    def resolve_cases(obj) -> list:
        return list(obj.cases.all())


class RentalHouseDetailOut(RentalHouseOut):
    filing_number: str
    pledge_signed: bool
    pledge_date: dt.date | None
    landlord_kind: Literal["person", "unit", ""]
    landlord_name: str
    rooms: list[str]
    inspections: list[InspectionOut] = Field(description="the latest inspections, newest first")
    open_cases: list[RentalCaseLinkOut]

    @staticmethod
    def resolve_landlord_kind(obj) -> str:
        return "person" if obj.landlord_resident else ("unit" if obj.landlord_unit else "")

    @staticmethod
    def resolve_landlord_name(obj) -> str:
        # A person's name masked like every list of people (the registry shows it to whoever may read the
        # resident); a unit's name is not personal data.
        if obj.landlord_resident:
            return pii.mask_name(obj.landlord_resident.name)
        return obj.landlord_unit.name if obj.landlord_unit else ""

    @staticmethod
    def resolve_rooms(obj) -> list[str]:
        return [r.number for r in obj.rooms.all()]

    @staticmethod
    def resolve_inspections(obj) -> list:
        return obj.latest_inspections

    @staticmethod
    def resolve_open_cases(obj) -> list:
        return obj.open_case_links


class RentalHouseIn(Schema):
    house_id: int = Field(..., ge=1, le=2**63 - 1)
    category_code: str = Field(..., pattern=CODE)
    landlord_resident_id: int | None = Field(None, ge=1, le=2**63 - 1)
    landlord_unit_id: int | None = Field(None, ge=1, le=2**63 - 1)
    filing_number: str = Field("", max_length=40, pattern=LINE)
    pledge_date: dt.date | None = None
    capacity_limit: int | None = Field(None, ge=1, le=1000)
    rooms: list[str] = Field(default_factory=list, max_length=200)


class InspectionIn(Schema):
    results: dict[str, ResultName] = Field(default_factory=dict, description="checklist item code → result")
    flags: list[FlagName] = Field(default_factory=list, max_length=4)
    inspected_on: dt.date | None = None
    note: str = Field("", max_length=500, pattern=LINE)
    client_id: str = Field(
        "", max_length=64, pattern=LINE, description="a retry with the same id records once"
    )


class ChecklistItemOut(Schema):
    code: str
    group: str
    name: str = Field(description="in the request's language (Chinese when no English name is kept)")
    weight: int
    hazard_category_code: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.local_name


class GradingRulesIn(Schema):
    thresholds: list[dict[str, Any]] = Field(..., max_length=10)
    overrides: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    visit_days: dict[str, int]
    red_grades: list[GradeName]
    red_streak: int
    note: str = Field("", max_length=200, pattern=LINE)


class GradingRulesOut(Schema):
    version: int
    thresholds: list[dict[str, Any]]
    overrides: list[dict[str, Any]]
    visit_days: dict[str, int]
    red_grades: list[str]
    red_streak: int
    note: str
    created_at: AwareDateTime


class RentalCounts(Schema):
    houses: int
    rooms: int


class RentalFigureRow(Schema):
    code: str
    name: str
    level: str
    houses: int
    rooms: int
    grades: dict[str, RentalCounts]
    categories: dict[str, RentalCounts]


class RentalFiguresOut(Schema):
    area: RentalFigureRow
    children: list[RentalFigureRow]
    category_names: dict[str, str] = Field(description="tenancy category code → name")


class RentalPublicPageOut(Schema):
    code: str
    community: str
    category: str
    grade: str | None
    colour: str | None
    last_inspected_on: dt.date | None
    open_hazards: list[str]
    tenant_notice: str
    how_to_report: str


class RentalActivityRow(Schema):
    code: str
    name: str
    level: str
    inspections: int = Field(description="inspections done in the period")
    inspections_due: int = Field(description="of these, inspections that had a due day (not a house's first)")
    on_time: int = Field(description="of these, done on or before their due day")
    on_time_share: float | None = Field(description="on_time ÷ inspections_due (none: nothing was due)")
    hazards_opened: int = Field(description="hazard cases opened in the period")
    hazards_closed: int = Field(description="hazard cases closed in the period")
    rectification_open: int = Field(description="rectification cases open today")


class RentalActivityOut(Schema):
    area: RentalActivityRow
    children: list[RentalActivityRow]
    date_from: dt.date
    date_to: dt.date


# --- star safe buildings and compounds (星级安全楼栋 / 星级安全小区) ---------------------------------------
SiteKindName = Literal["building", "compound"]
StarFilter = Literal[
    "applied", "assessed", "awarded", "refused", "withdrawn", "expired", "unrated", "review_due"
]


class StarOpenApplicationOut(Schema):
    id: int
    kind: str = Field(description="application or review")
    status: str = Field(description="applied or assessed")
    stars: int | None = Field(description="the stars the assessment gives (assessed)")
    score: float | None

    @staticmethod
    def resolve_stars(obj) -> int | None:
        return obj.assessment.stars if hasattr(obj, "assessment") else None

    @staticmethod
    def resolve_score(obj) -> float | None:
        return float(obj.assessment.score) if hasattr(obj, "assessment") else None


class StarSiteOut(Schema):
    id: int
    kind: str
    name: str
    community: str = Field(..., alias="community.name")
    community_code: str = Field(..., alias="community.code")
    status: str = Field(description="unrated, awarded or withdrawn (see expired)")
    stars: int | None
    awarded_on: dt.date | None
    valid_until: dt.date | None
    review_due_on: dt.date | None
    expired: bool
    review_due: bool
    withdrawn_on: dt.date | None
    withdrawn_reason: str
    open_application: StarOpenApplicationOut | None

    @staticmethod
    def resolve_expired(obj) -> bool:
        return obj.status == "awarded" and bool(obj.valid_until and obj.valid_until < timezone.localdate())

    @staticmethod
    def resolve_review_due(obj) -> bool:
        return obj.status == "awarded" and bool(
            obj.review_due_on and obj.review_due_on <= timezone.localdate()
        )

    @staticmethod
    def resolve_open_application(obj):
        return obj.open_applications[0] if obj.open_applications else None


class StarCriterionOut(Schema):
    code: str
    name: str
    name_en: str
    applies: str
    weight: int
    required: bool


class StarScoreOut(StarCriterionOut):
    points: int


class StarAssessmentOut(Schema):
    rules_version: int
    score: float
    stars: int | None = Field(description="none: refused")
    unmet_required: list[str]
    criteria: list[StarScoreOut] = Field(
        description="the criteria as they were when assessed, with the points"
    )
    assessor: str
    note: str
    created_at: AwareDateTime

    @staticmethod
    def resolve_rules_version(obj) -> int:
        return obj.rules.version

    @staticmethod
    def resolve_score(obj) -> float:
        return float(obj.score)

    @staticmethod
    def resolve_criteria(obj) -> list[dict[str, Any]]:
        return [{**c, "points": obj.scores.get(c["code"], 0)} for c in obj.criteria]

    @staticmethod
    def resolve_assessor(obj) -> str:
        return obj.assessor.display_name or obj.assessor.username


class StarApplicationOut(Schema):
    id: int
    kind: str
    status: str
    applicant: str
    note: str
    created_at: AwareDateTime
    decided_at: AwareDateTime | None
    assessment: StarAssessmentOut | None

    @staticmethod
    def resolve_applicant(obj) -> str:
        return obj.applicant.display_name or obj.applicant.username

    @staticmethod
    def resolve_assessment(obj):
        return obj.assessment if hasattr(obj, "assessment") else None


class StarStepOut(Schema):
    action: str
    actor: str
    at: AwareDateTime
    stars_before: int | None
    stars_after: int | None
    reason: str

    @staticmethod
    def resolve_actor(obj) -> str:
        return (obj.actor.display_name or obj.actor.username) if obj.actor else ""


class StarBuildingOut(Schema):
    code: str
    address: str


class StarSiteDetailOut(StarSiteOut):
    building_code: str
    compound_id: int | None
    compound_type: str
    buildings: list[StarBuildingOut] = Field(description="a compound's buildings (a building: itself)")
    applications: list[StarApplicationOut] = Field(description="newest first")
    history: list[StarStepOut] = Field(description="newest first")
    criteria: list[StarCriterionOut] = Field(description="the current criteria that apply to this site")
    actions: list[str] = Field(description="what you may do next: apply, assess, award, review, withdraw")

    @staticmethod
    def resolve_building_code(obj) -> str:
        return obj.building.code if obj.building_id else ""

    @staticmethod
    def resolve_compound_type(obj) -> str:
        return obj.compound.type if obj.compound_id else ""

    @staticmethod
    def resolve_buildings(obj) -> list:
        return [obj.building] if obj.building_id else list(obj.compound.buildings.all())

    @staticmethod
    def resolve_applications(obj) -> list:
        return obj.all_applications

    @staticmethod
    def resolve_history(obj) -> list:
        return obj.history


class StarApplyIn(Schema):
    kind: SiteKindName
    building_code: str = Field("", pattern=r"^[0-9A-Za-z_-]{0,32}$")
    compound_id: int | None = Field(None, ge=1, le=2**63 - 1)
    note: str = Field("", max_length=500, pattern=LINE)


class StarAssessIn(Schema):
    scores: dict[Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,16}$")], int] = Field(
        ..., max_length=100, description="criterion code → points, 0 to its weight"
    )
    note: str = Field("", max_length=500, pattern=LINE)


class StarNoteIn(Schema):
    note: str = Field("", max_length=500, pattern=LINE)


class StarWithdrawIn(Schema):
    reason: str = Field(..., min_length=1, max_length=300, pattern=LINE)


class CompoundIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, pattern=LINE)
    type: Literal["residential", "village"] = "residential"
    community_code: str = Field(..., pattern=CODE)
    building_codes: list[Annotated[str, StringConstraints(pattern=CODE)]] = Field(
        ..., min_length=1, max_length=500
    )


class CompoundOut(Schema):
    id: int
    name: str
    type: str
    community: str = Field(..., alias="community.name")
    community_code: str = Field(..., alias="community.code")
    buildings: list[StarBuildingOut]
    site_id: int | None

    @staticmethod
    def resolve_buildings(obj) -> list:
        return list(obj.buildings.all())

    @staticmethod
    def resolve_site_id(obj) -> int | None:
        site = getattr(obj, "star_site", None)
        return site.pk if site else None


class StarRulesIn(Schema):
    criteria: list[dict[str, Any]] = Field(..., max_length=50)
    thresholds: list[dict[str, Any]] = Field(..., max_length=3)
    validity_days: int
    review_notice_days: int
    note: str = Field("", max_length=200, pattern=LINE)


class StarRulesOut(Schema):
    version: int
    criteria: list[StarCriterionOut]
    thresholds: list[dict[str, Any]]
    validity_days: int
    review_notice_days: int
    note: str
    created_at: AwareDateTime


class StarKindCounts(Schema):
    stars: dict[str, int] = Field(description='"3", "4", "5" → sites holding that many stars (valid today)')
    awarded: int
    applied: int = Field(description="sites that ever applied")
    open: int = Field(description="sites with an open application or review")
    review_due: int


class StarCountsRow(Schema):
    code: str
    name: str
    level: str
    building: StarKindCounts
    compound: StarKindCounts


class StarCountsOut(Schema):
    area: StarCountsRow
    children: list[StarCountsRow]


class StarPublicOut(Schema):
    """An awarded building or compound as anyone sees it: no person, no internal id."""

    kind: str
    name: str
    stars: int
    community: str = Field(..., alias="community.name")
    valid_until: dt.date
