"""Inputs and outputs of the field-work API."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from ninja import Field, Schema

from gridgov.core.dates import AwareDateTime, FilterDate

CLIENT_ID = Field(..., min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")
AREA = Field("", pattern=r"^[0-9A-Za-z_-]{0,32}$")


class SessionStartIn(Schema):
    client_id: str = CLIENT_ID
    area_code: str = AREA
    started_at: AwareDateTime | None = None


class PointIn(Schema):
    t: AwareDateTime
    lng: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=100000)
    mock: bool = False
    crs: Literal["wgs84", "gcj02"] = "wgs84"


class BreakIn(Schema):
    start: AwareDateTime
    end: AwareDateTime
    reason: Literal["pause", "background"]


class PointsIn(Schema):
    client_id: str = CLIENT_ID
    points: list[PointIn] = Field(default_factory=list, max_length=5000)
    breaks: list[BreakIn] = Field(default_factory=list, max_length=500)


class BatchOut(Schema):
    client_id: str
    point_count: int


class FindingIn(Schema):
    client_id: str = CLIENT_ID
    description: str = Field(..., max_length=2000)
    lng: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    attachments: list[str] = Field(default_factory=list, max_length=9)
    category_code: str | None = Field(None, max_length=16)


class FindingOut(Schema):
    id: int
    client_id: str
    case_id: int
    case_number: str = Field(..., alias="case.number")
    description: str = Field(..., alias="case.description")
    lng: float | None
    lat: float | None
    created_at: dt.datetime


class SessionEndIn(Schema):
    ended_at: AwareDateTime | None = None


class SessionOut(Schema):
    id: int
    client_id: str
    patroller_id: int
    patroller_name: str
    area_code: str = Field(..., alias="area.code")
    area_name: str = Field(..., alias="area.name")
    plan_id: int | None
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    minutes: float
    distance_m: float
    tracked_s: float
    inside_share: float | None
    findings_count: int
    raw_count: int
    stored_count: int
    flag_counts: dict[str, int]

    @staticmethod
    def resolve_patroller_name(obj) -> str:
        return obj.patroller.display_name or obj.patroller.username


class SessionDetailOut(SessionOut):
    track: dict[str, Any] | None
    gaps: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    findings: list[FindingOut]

    @staticmethod
    def resolve_track(obj) -> dict[str, Any] | None:
        return json.loads(obj.track) if obj.track else None

    @staticmethod
    def resolve_findings(obj) -> list[Any]:
        return list(obj.findings.all())


class PlanIn(Schema):
    area_code: str = Field(..., min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    role: Literal["", "grid_worker", "block_chief"] = ""
    assignee_id: int | None = Field(None, ge=1, le=2**63 - 1)
    cadence: Literal["daily", "weekly", "per_week"]
    per_week: int = Field(1, ge=1, le=7)
    min_minutes: int = Field(30, ge=1, le=720)
    valid_from: FilterDate
    valid_to: FilterDate | None = None


class PlanPatchIn(Schema):
    role: Literal["", "grid_worker", "block_chief"] | None = None
    cadence: Literal["daily", "weekly", "per_week"] | None = None
    per_week: int | None = Field(None, ge=1, le=7)
    min_minutes: int | None = Field(None, ge=1, le=720)
    valid_from: FilterDate | None = None
    valid_to: FilterDate | None = None


class PlanOut(Schema):
    id: int
    area_code: str = Field(..., alias="area.code")
    area_name: str = Field(..., alias="area.name")
    role: str
    assignee_id: int | None
    cadence: str
    per_week: int
    min_minutes: int
    valid_from: dt.date
    valid_to: dt.date | None


class CoverageOut(Schema):
    area_code: str
    area_name: str
    week: dt.date
    buildings: int
    covered: int
    share: float | None


class PlanVsDoneOut(Schema):
    user_id: int
    name: str
    role: str
    area_code: str
    area_name: str
    cadence: str
    per_week: int
    min_minutes: int
    plan_id: int | None
    patrols_planned: int
    patrols_done: int
    days_done: int
    hours_planned: float
    hours_done: float
    findings: int
    behind: bool


class OverdueOut(Schema):
    user_id: int
    name: str
    role: str
    area_code: str
    area_name: str
    cadence: str
    unit_from: dt.date
    unit_to: dt.date
    planned: int
    done: int
    last_patrol: dt.date | None
