"""Input and output shapes of the rental API. The public page's shape has no field about a person."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Schema

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
