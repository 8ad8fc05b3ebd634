"""The territory tree: district → subdistrict → community → block → grid, with buildings and houses.

Every area carries an indexed materialised `path` ("440309/440309002/…/<own code>/"): the subtree of an
area is one prefix filter, which is how data scope works. Geometry is GeoJSON text (WGS-84) with a bbox.
Codes: docs/codes.md.
"""

from __future__ import annotations

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
        self.path = (self.parent.path if self.parent_id else "") + f"{self.code}/"
        self.depth = LEVEL_DEPTH[self.level]
        super().save(*args, **kwargs)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        if self.min_lng is None:
            return None
        return (self.min_lng, self.min_lat, self.max_lng, self.max_lat)


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
