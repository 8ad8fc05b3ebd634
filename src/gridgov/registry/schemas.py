"""Input and output shapes of the registry API. Personal fields arrive masked from the selectors
(`masked` lists the fields that were masked in each record)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema

from gridgov.core.dates import AwareDateTime

LINE = r"^[^\x00-\x1f]*$"
CODE = r"^[0-9A-Za-z_-]{1,32}$"
ResidenceTypeName = Literal["registered", "floating", "tenant"]
RelationName = Literal["head", "spouse", "child", "parent", "grandchild", "other", ""]
UnitKindName = Literal["company", "shop", "organisation"]
CareGroupName = Literal[
    "elderly_alone",
    "disabled",
    "low_income",
    "left_behind_child",
    "extreme_hardship",
    "serious_illness",
    "veteran",
]
ImportKindName = Literal["residents", "houses", "units"]
ImportModeName = Literal["all_or_nothing", "valid_rows"]
ExportKindName = Literal["residents", "units", "households"]
PiiFieldName = Literal["phone", "id_number", "care"]


def _text(max_length: int, default: str | None = "") -> Any:
    return Field(default, max_length=max_length, pattern=LINE)


# --- residents ---------------------------------------------------------------------------------------
class ResidentOut(Schema):
    id: int
    name: str
    gender: str
    birth_date: dt.date | None = Field(
        description="null unless the ID number is shown unmasked (it is eight digits of the number)"
    )
    id_number: str
    phone: str
    residence_type: str
    moved_in: dt.date | None
    moved_out: dt.date | None
    relation: str
    building_code: str
    grid_name: str = Field("", description="the grid's name (names, not codes)")
    address: str
    unit: str
    room: str
    household_id: int | None
    care_groups: list[str] | None = Field(None, description="null: you may not see care groups")
    source: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    masked: list[str] = Field(description="fields shown masked")
    revealable: list[str] = Field(description="masked fields you would see with reveal=true (logged)")


class ResidentPage(Schema):
    items: list[ResidentOut]
    count: int


class ResidentIn(Schema):
    name: str = Field(..., min_length=1, max_length=50, pattern=LINE)
    id_number: str = Field(..., min_length=1, max_length=32, pattern=LINE)
    gender: Literal["M", "F", ""] = ""
    phone: str = Field("", max_length=20, pattern=r"^[0-9+\- ]*$")
    residence_type: ResidenceTypeName
    building_code: str = Field(..., pattern=CODE)
    unit: str = _text(10)
    room: str = Field(..., min_length=1, max_length=10, pattern=LINE)
    household_no: str = _text(32)
    relation: RelationName = ""
    moved_in: dt.date | None = None
    moved_out: dt.date | None = None


class ResidentPatch(Schema):
    version: int = Field(..., ge=1, le=2**31 - 1)
    name: str | None = Field(None, min_length=1, max_length=50, pattern=LINE)
    id_number: str | None = Field(None, min_length=1, max_length=32, pattern=LINE)
    phone: str | None = Field(None, max_length=20, pattern=r"^[0-9+\- ]*$")
    residence_type: ResidenceTypeName | None = None
    building_code: str | None = Field(None, pattern=CODE)
    unit: str | None = _text(10, None)
    room: str | None = Field(None, max_length=10, pattern=LINE)
    household_no: str | None = _text(32, None)
    relation: RelationName | None = None
    moved_in: dt.date | None = None
    moved_out: dt.date | None = None


class HistoryOut(Schema):
    version: int
    action: str
    actor: str | None
    at: dt.datetime
    changes: dict
    submission_id: int | None
    note: str

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.username if obj.actor_id else None


# --- units -------------------------------------------------------------------------------------------
class UnitOut(Schema):
    id: int
    name: str
    credit_code: str | None
    kind: str
    address: str
    building_code: str
    grid_name: str = Field("", description="the grid's name (names, not codes)")
    room: str
    contact_name: str
    phone: str
    employees: int
    source: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    masked: list[str]
    revealable: list[str] = Field(description="masked fields you would see with reveal=true (logged)")


class UnitPage(Schema):
    items: list[UnitOut]
    count: int


class UnitIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, pattern=LINE)
    credit_code: str = Field("", max_length=18, pattern=r"^[0-9A-Za-z]*$")
    kind: UnitKindName = "company"
    building_code: str = Field(..., pattern=CODE)
    unit: str = _text(10)
    room: str = _text(10)
    address: str = _text(200)
    contact_name: str = _text(50)
    phone: str = Field("", max_length=20, pattern=r"^[0-9+\- ]*$")
    employees: int = Field(0, ge=0, le=1_000_000)


class UnitPatch(Schema):
    version: int = Field(..., ge=1, le=2**31 - 1)
    name: str | None = Field(None, min_length=1, max_length=100, pattern=LINE)
    credit_code: str | None = Field(None, max_length=18, pattern=r"^[0-9A-Za-z]*$")
    kind: UnitKindName | None = None
    address: str | None = _text(200, None)
    contact_name: str | None = _text(50, None)
    phone: str | None = Field(None, max_length=20, pattern=r"^[0-9+\- ]*$")
    employees: int | None = Field(None, ge=0, le=1_000_000)


# --- households and care groups ----------------------------------------------------------------------
class HouseholdOut(Schema):
    id: int
    number: str
    building_code: str
    address: str
    unit: str
    room: str
    head_id: int | None
    head_name: str | None
    member_count: int
    grid_name: str = Field("", description="the grid's name (names, not codes)")

    @staticmethod
    def resolve_building_code(obj) -> str:
        return obj.house.building.code

    @staticmethod
    def resolve_grid_name(obj) -> str:
        return obj.house.building.grid.name

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.house.building.address

    @staticmethod
    def resolve_unit(obj) -> str:
        return obj.house.unit

    @staticmethod
    def resolve_room(obj) -> str:
        return obj.house.room

    @staticmethod
    def resolve_head_name(obj) -> str | None:
        return obj.head.name if obj.head_id else None


class CareMemberOut(Schema):
    id: int
    resident_id: int
    name: str
    group: str
    since: dt.date | None
    note: str
    building_code: str
    address: str
    room: str

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.resident.name

    @staticmethod
    def resolve_building_code(obj) -> str:
        return obj.resident.building.code

    @staticmethod
    def resolve_address(obj) -> str:
        return obj.resident.building.address

    @staticmethod
    def resolve_room(obj) -> str:
        return obj.resident.house.room if obj.resident.house_id else ""


class CareIn(Schema):
    resident_id: int = Field(..., ge=1, le=2**63 - 1)
    group: CareGroupName
    since: dt.date | None = None
    note: str = _text(200)


class CareSummaryOut(Schema):
    group: str
    label: str
    count: int


# --- submissions -------------------------------------------------------------------------------------
class SubmissionData(Schema):
    name: str | None = Field(None, max_length=100, pattern=LINE)
    id_number: str | None = Field(None, max_length=32, pattern=LINE)
    gender: Literal["M", "F", ""] | None = None
    phone: str | None = Field(None, max_length=20, pattern=r"^[0-9+\- ]*$")
    residence_type: ResidenceTypeName | None = None
    building_code: str | None = Field(None, pattern=CODE)
    unit: str | None = _text(10, None)
    room: str | None = _text(10, None)
    household_no: str | None = _text(32, None)
    relation: RelationName | None = None
    moved_in: dt.date | None = None
    moved_out: dt.date | None = None
    credit_code: str | None = Field(None, max_length=18, pattern=r"^[0-9A-Za-z]*$")
    kind: UnitKindName | None = None
    address: str | None = _text(200, None)
    contact_name: str | None = _text(50, None)
    employees: int | None = Field(None, ge=0, le=1_000_000)


class SubmissionIn(Schema):
    kind: Literal["resident", "unit"]
    action: Literal["create", "update", "move_out"]
    target_id: int | None = Field(None, ge=1, le=2**63 - 1)
    base_version: int | None = Field(None, ge=1, le=2**31 - 1)
    data: SubmissionData


class SubmissionOut(Schema):
    id: int
    kind: str
    action: str
    status: str
    building_code: str
    building_address: str = Field("", description="the building's address (names, not codes)")
    grid_name: str = ""
    target_id: int | None
    base_version: int | None
    data: dict = Field(..., description="the proposed values; ID number and phone masked unless revealed")
    submitted_by: str = Field(..., description="username of the collector")
    submitted_by_name: str = Field("", description="the collector's name as shown")
    submitted_at: dt.datetime
    reviewed_by: str | None
    reviewed_by_name: str | None = None
    reviewed_at: dt.datetime | None
    reason: str
    result_id: int | None
    masked: list[str] = Field(default_factory=list, description="fields shown masked")
    revealable: list[str] = Field(default_factory=list, description="masked fields this reader may reveal")


class SubmissionPage(Schema):
    items: list[SubmissionOut]
    count: int


class RejectIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$")


# --- imports -----------------------------------------------------------------------------------------
class ImportJobOut(Schema):
    id: int
    kind: str
    mode: str
    status: str
    phase: str
    file_name: str
    file_format: str
    encoding: str
    total: int
    processed: int
    percent: float
    inserted: int
    errors: int = Field(description="rows with errors")
    file_error: str | None = Field(None, description="a fault of the whole file (headers, encoding, …)")
    error_workbook_url: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float
    rows_per_second: float | None


class ImportErrorOut(Schema):
    row: int
    column: str = Field(..., description="the column's key")
    column_label: str = Field("", description="the column's heading as in the template, in your language")
    message: str


class ExportIn(Schema):
    kind: ExportKindName
    format: Literal["xlsx", "csv"] = "xlsx"
    area: str | None = Field(None, pattern=CODE)
    building: str | None = Field(None, pattern=CODE)
    residence_type: ResidenceTypeName | None = None
    reveal: bool = False
    purpose: str = Field("", max_length=200, pattern=LINE, description="why the values are revealed (logged)")


# --- PII grants and the access log ---------------------------------------------------------------------
class GrantIn(Schema):
    user_id: int = Field(..., ge=1, le=2**63 - 1)
    field: PiiFieldName
    area_code: str = Field(..., pattern=CODE)
    reason: str = Field(..., min_length=1, max_length=300, pattern=LINE)
    expires_at: AwareDateTime | None = None


class GrantOut(Schema):
    id: int
    username: str
    field: str
    area_code: str
    reason: str
    granted_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.user.username

    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_granted_by(obj) -> str:
        return obj.granted_by.username


class AccessLogOut(Schema):
    id: int
    at: dt.datetime
    username: str
    action: str
    object_type: str
    object_ids: list[int]
    count: int
    fields: list[str]
    purpose: str
    endpoint: str
    source_ip: str | None
    detail: dict

    @staticmethod
    def resolve_object_ids(obj) -> list[int]:
        return [int(x) for x in obj.object_refs.strip(",").split(",") if x]
