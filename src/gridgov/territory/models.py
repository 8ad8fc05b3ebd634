"""The territory tree: district → subdistrict → community → block → grid, with buildings and houses.

Every area carries an indexed materialised `path` ("440309/440309002/…/<own code>/"): the subtree of an
area is one prefix filter, which is how data scope works. Geometry is GeoJSON text (WGS-84) with a bbox.
Codes: docs/codes.md.
"""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    DISTRICT = "district", _("District")
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    COMMUNITY = "community", _("Community")
    BLOCK = "block", _("Block")
    GRID = "grid", _("Grid")


LEVEL_ORDER = [Level.DISTRICT, Level.SUBDISTRICT, Level.COMMUNITY, Level.BLOCK, Level.GRID]
LEVEL_DEPTH = {level.value: i for i, level in enumerate(LEVEL_ORDER)}


class Area(models.Model):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    level = models.CharField(max_length=16, choices=Level.choices, db_index=True)
    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    geometry = models.TextField(
        blank=True, default="", help_text="GeoJSON geometry (Polygon/MultiPolygon), WGS-84"
    )
    min_lng = models.FloatField(null=True, blank=True)
    min_lat = models.FloatField(null=True, blank=True)
    max_lng = models.FloatField(null=True, blank=True)
    max_lat = models.FloatField(null=True, blank=True)
    households = models.PositiveIntegerField(default=0, help_text="cached count of households below")
    external_code = models.CharField(
        max_length=40, blank=True, default="", help_text="a vendor's 责任网格 code"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        indexes = [
            models.Index(fields=["level", "path"], name="area_level_path"),
            models.Index(fields=["min_lng", "max_lng", "min_lat", "max_lat"], name="area_bbox"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        # Invariant: path and depth follow the parent.
        self.path = (cast("Area", self.parent).path if self.parent_id else "") + f"{self.code}/"
        self.depth = LEVEL_DEPTH[self.level]
        super().save(*args, **kwargs)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        if self.min_lng is None:
            return None
        return cast(
            tuple[float, float, float, float], (self.min_lng, self.min_lat, self.max_lng, self.max_lat)
        )


class BuildingKind(models.TextChoices):
    URBAN_VILLAGE = "urban_village", _("Urban-village building")
    COMPOUND = "compound", _("Residential compound building")
    COMMERCIAL = "commercial", _("Commercial building")
    OTHER = "other", _("Other")


class Building(models.Model):
    grid = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="buildings")
    code = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=100, blank=True, default="")
    address = models.CharField(max_length=200)
    lng = models.FloatField(help_text="WGS-84")
    lat = models.FloatField(help_text="WGS-84")
    footprint = models.TextField(blank=True, default="", help_text="GeoJSON polygon, WGS-84")
    floors = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=16, choices=BuildingKind.choices, default=BuildingKind.OTHER)
    households = models.PositiveIntegerField(default=0, help_text="cached count of households")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.address


class HouseUse(models.TextChoices):
    OWNER_OCCUPIED = "owner_occupied", _("Owner-occupied")
    RENTED = "rented", _("Rented")
    COMMERCIAL = "commercial", _("Commercial")
    VACANT = "vacant", _("Vacant")


class House(models.Model):
    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="houses")
    unit = models.CharField(max_length=10, blank=True, default="")
    floor = models.SmallIntegerField(default=1)
    room = models.CharField(max_length=10)
    use = models.CharField(max_length=16, choices=HouseUse.choices, default=HouseUse.OWNER_OCCUPIED)
    households = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["building_id", "unit", "floor", "room"]
        constraints = [
            models.UniqueConstraint(fields=["building", "unit", "floor", "room"], name="house_unique_room"),
        ]

    def __str__(self) -> str:
        unit = f"{self.unit}单元" if self.unit else ""
        return f"{self.building.address} {unit}{self.room}"


class AreaVersion(models.Model):
    """What an area was before a change of the grid layout (re-division adopted): its geometry, parent,
    households and name, and until when they held. The area row itself is kept (archived when it is no
    longer in use), so cases and history that name it still resolve."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="versions")
    proposal = models.ForeignKey(
        "GridProposal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=100)
    parent_code = models.CharField(max_length=24, blank=True, default="")
    geometry = models.TextField(blank=True, default="")
    households = models.PositiveIntegerField(default=0)
    buildings = models.JSONField(default=list, blank=True, help_text="building codes")
    valid_to = models.DateTimeField()

    class Meta:
        ordering = ["area_id", "valid_to"]

    def __str__(self) -> str:
        return f"{self.area_id} until {self.valid_to:%Y-%m-%d}"


class ProposalStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ADOPTED = "adopted", _("Adopted")
    DISCARDED = "discarded", _("Discarded")


class GridProposal(models.Model):
    """A proposed re-division of the grids of a community, a block or a subdistrict (territory/partition.py),
    kept for review beside today's grids until staff adopt or discard it.

    `result`: {"grids": [{"key", "code" (kept, or "" for a new one), "group", "households", "buildings":
    [building ids], "geometry"}], "oversize": [...], "infeasible": [...], "before": [...], "metrics": {...}}.
    `fingerprint` is a hash of the building → grid assignment the proposal started from: adopting a
    proposal whose grids changed since answers 409."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    group_level = models.CharField(max_length=16)
    lo = models.PositiveIntegerField()
    hi = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.DRAFT, db_index=True
    )
    fingerprint = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"proposal {self.pk} ({self.status})"


class CrsName(models.TextChoices):
    WGS84 = "wgs84", "WGS-84 (GPS)"
    CGCS2000 = "cgcs2000", "CGCS2000 (≈ WGS-84)"
    GCJ02 = "gcj02", "GCJ-02"
    BD09 = "bd09", "BD-09"


class DepartmentLayer(models.Model):
    """A department's own grid layer (综治、城管、市场监管 … 网格) imported for 多网合一."""

    name = models.CharField(max_length=100)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_crs = models.CharField(max_length=16, choices=CrsName.choices)
    source_name = models.CharField(max_length=255, blank=True, default="")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class DepartmentGrid(models.Model):
    layer = models.ForeignKey(DepartmentLayer, on_delete=models.CASCADE, related_name="grids")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True, default="")
    geometry = models.TextField(help_text="GeoJSON Polygon/MultiPolygon, WGS-84")
    min_lng = models.FloatField()
    min_lat = models.FloatField()
    max_lng = models.FloatField()
    max_lat = models.FloatField()

    class Meta:
        ordering = ["layer_id", "code", "id"]

    def __str__(self) -> str:
        return self.code
