"""Input and output shapes of the territory API."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal, cast

from ninja import Field, Schema

from gridgov.territory.models import Area, Building, House

CODE_PATTERN = r"^[0-9A-Za-z_-]{1,24}$"
TEXT_PATTERN = r"^[^\x00-\x1f]*$"  # no control characters (PostgreSQL refuses NUL in text)

LevelName = Literal["district", "subdistrict", "community", "block", "grid"]
CrsName = Literal["wgs84", "gcj02", "bd09"]
HouseUseName = Literal["owner_occupied", "rented", "commercial", "vacant"]


def _geometry(text: str) -> dict[str, Any] | None:
    return json.loads(text) if text else None


# --- areas ----------------------------------------------------------------------------------------
class AreaOut(Schema):
    code: str
    name: str
    level: str
    level_label: str
    parent_code: str | None
    path: str
    households: int
    external_code: str
    is_active: bool
    bbox: list[float] | None = Field(None, description="[min_lng, min_lat, max_lng, max_lat], WGS-84")

    @staticmethod
    def resolve_level_label(obj: Area) -> str:
        return str(obj.get_level_display())

    @staticmethod
    def resolve_parent_code(obj: Area) -> str | None:
        return cast(Area, obj.parent).code if obj.parent_id else None

    @staticmethod
    def resolve_bbox(obj: Area) -> list[float] | None:
        box = obj.bbox
        return list(box) if box else None


class AreaDetailOut(AreaOut):
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon, WGS-84")
    updated_at: str

    @staticmethod
    def resolve_geometry(obj: Area) -> dict[str, Any] | None:
        return _geometry(obj.geometry)

    @staticmethod
    def resolve_updated_at(obj: Area) -> str:
        return obj.updated_at.isoformat()


class AreaCreateIn(Schema):
    level: LevelName
    code: str = Field(..., min_length=1, max_length=24, pattern=CODE_PATTERN)
    name: str = Field(..., min_length=1, max_length=100, pattern=TEXT_PATTERN)
    parent_code: str | None = Field(None, max_length=24, pattern=CODE_PATTERN)
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon, WGS-84")
    external_code: str = Field("", max_length=40, pattern=TEXT_PATTERN)
    is_active: bool = True


class AreaPatchIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=100, pattern=TEXT_PATTERN)
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON Polygon/MultiPolygon; null clears it")
    external_code: str | None = Field(None, max_length=40, pattern=TEXT_PATTERN)
    is_active: bool | None = None


# --- GeoJSON --------------------------------------------------------------------------------------
class FeatureProperties(Schema):
    code: str
    name: str
    level: str
    households: int
    parent_code: str | None


class Feature(Schema):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: FeatureProperties


class FeatureCollection(Schema):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]


# --- buildings and houses -------------------------------------------------------------------------
class BuildingOut(Schema):
    code: str
    name: str
    address: str
    grid_code: str
    lng: float = Field(..., description="WGS-84")
    lat: float = Field(..., description="WGS-84")
    floors: int
    kind: str
    kind_label: str
    households: int

    @staticmethod
    def resolve_grid_code(obj: Building) -> str:
        return obj.grid.code

    @staticmethod
    def resolve_kind_label(obj: Building) -> str:
        return str(obj.get_kind_display())


class BuildingDetailOut(BuildingOut):
    grid_name: str
    footprint: dict[str, Any] | None = Field(None, description="GeoJSON polygon, WGS-84")

    @staticmethod
    def resolve_grid_name(obj: Building) -> str:
        return obj.grid.name

    @staticmethod
    def resolve_footprint(obj: Building) -> dict[str, Any] | None:
        return _geometry(obj.footprint)


class HouseOut(Schema):
    id: int
    building_code: str
    unit: str
    floor: int
    room: str
    use: str
    use_label: str
    households: int

    @staticmethod
    def resolve_building_code(obj: House) -> str:
        return obj.building.code

    @staticmethod
    def resolve_use_label(obj: House) -> str:
        return str(obj.get_use_display())


# --- locate ---------------------------------------------------------------------------------------
class LocateQuery(Schema):
    lng: float = Field(..., ge=-180, le=180, description="longitude in `crs`")
    lat: float = Field(..., ge=-90, le=90, description="latitude in `crs`")
    crs: CrsName = Field("wgs84", description="wgs84 (GPS), gcj02 (Amap/Tencent) or bd09 (Baidu)")


class AreaRef(Schema):
    code: str
    name: str


class PointOut(Schema):
    lng: float
    lat: float
    crs: str


class LocateOut(Schema):
    grid: AreaRef
    block: AreaRef | None
    community: AreaRef | None
    subdistrict: AreaRef | None
    district: AreaRef | None
    point: PointOut = Field(..., description="the point in WGS-84")
    input: PointOut = Field(..., description="the point as given")

    @staticmethod
    def from_located(found) -> LocateOut:
        def ref(area):
            return AreaRef(code=area.code, name=area.name) if area is not None else None

        return LocateOut(
            grid=ref(found.grid),
            block=ref(found.ancestors.get("block")),
            community=ref(found.ancestors.get("community")),
            subdistrict=ref(found.ancestors.get("subdistrict")),
            district=ref(found.ancestors.get("district")),
            point=PointOut(lng=found.lng, lat=found.lat, crs="wgs84"),
            input=PointOut(lng=found.input_lng, lat=found.input_lat, crs=found.input_crs),
        )


# --- staffing ---------------------------------------------------------------------------------------
class StaffLeaveOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime
    backup_name: str

    @staticmethod
    def resolve_backup_name(obj) -> str:
        return obj.backup.display_name or obj.backup.username


class StaffMemberOut(Schema):
    post: Literal[
        "community_staff",
        "subdistrict_staff",
        "leader",
        "block_chief",
        "grid_chief",
        "grid_worker",
        "building_head",
    ]
    user_id: int
    name: str
    phone: str = Field(..., description="masked (138****5678) unless revealed")
    phone_revealed: bool
    area_code: str
    area_name: str
    building_code: str | None = None
    building_name: str | None = None
    backup_name: str = Field("", description="the standing backup (AB岗 B)")
    on_leave: StaffLeaveOut | None = Field(None, description="on leave now; who stands in")

    @staticmethod
    def resolve_user_id(obj) -> int:
        return obj.user.pk

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.user.display_name or obj.user.username

    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_area_name(obj) -> str:
        return obj.area.name

    @staticmethod
    def resolve_building_code(obj) -> str | None:
        return obj.building.code if obj.building else None

    @staticmethod
    def resolve_building_name(obj) -> str | None:
        return (obj.building.name or obj.building.address) if obj.building else None

    @staticmethod
    def resolve_on_leave(obj):
        return obj.leave


class StaffOut(Schema):
    area_code: str
    area_name: str
    area_level: str
    residents: int = Field(..., description="current residents (registry)")
    households: int = Field(..., description="households (registry)")
    revealable: bool = Field(..., description="the reader may reveal the phones (logged)")
    members: list[StaffMemberOut]

    @staticmethod
    def resolve_area_code(obj) -> str:
        return obj.area.code

    @staticmethod
    def resolve_area_name(obj) -> str:
        return obj.area.name

    @staticmethod
    def resolve_area_level(obj) -> str:
        return obj.area.level
