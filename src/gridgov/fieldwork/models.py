"""Field work (巡查): patrol plans (who patrols which area how often, as data), patrol sessions with their
uploaded batches of raw GPS fixes, the stored simplified track and summary, and the findings a patrol
reported as cases. Rules: tracks.py (pure) and services.py; see docs/fieldwork.md."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Cadence(models.TextChoices):
    DAILY = "daily", _("Every working day")
    WEEKLY = "weekly", _("Once a week")
    PER_WEEK = "per_week", _("Times per week")


class PatrolPlan(models.Model):
    """Who patrols an area (a grid or a block) how often: everyone of a role with a membership on that
    area, or one named assignee. Without a plan the defaults of services.DEFAULT_PLANS apply (grid
    workers daily in their grid, block chiefs weekly in their block)."""

    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=32, blank=True, default="")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cadence = models.CharField(max_length=12, choices=Cadence.choices)
    per_week = models.PositiveSmallIntegerField(default=1)
    min_minutes = models.PositiveSmallIntegerField(default=30)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["area_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="") | Q(assignee__isnull=False), name="fieldwork_plan_role_or_assignee"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.area_id} {self.cadence}"


class SessionStatus(models.TextChoices):
    OPEN = "open", _("On patrol")
    ENDED = "ended", _("Ended")


class PatrolSession(models.Model):
    """One patrol, started and ended on the phone. The raw fixes live in TrackPoint (purged after
    FIELDWORK_RAW_DAYS); what stays is the simplified track (GeoJSON MultiLineString, one line per
    segment), the gaps, the flagged fixes and the summary."""

    patroller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        PatrolPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    client_id = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=SessionStatus.choices, default=SessionStatus.OPEN)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    breaks = models.JSONField(default=list, blank=True, help_text="[[start, end, reason]] epoch seconds")
    track = models.TextField(blank=True, default="", help_text="GeoJSON MultiLineString, WGS-84")
    gaps = models.JSONField(default=list, blank=True)
    flagged = models.JSONField(default=list, blank=True)
    flag_counts = models.JSONField(default=dict, blank=True)
    distance_m = models.FloatField(default=0)
    tracked_s = models.FloatField(default=0)
    inside_share = models.FloatField(null=True, blank=True)
    raw_count = models.PositiveIntegerField(default=0)
    stored_count = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    raw_purged = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patroller", "client_id"], name="fieldwork_session_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.patroller_id}@{self.started_at:%Y-%m-%d %H:%M}"

    @property
    def minutes(self) -> float:
        if self.ended_at is None:
            return 0.0
        return (self.ended_at - self.started_at).total_seconds() / 60


class TrackBatch(models.Model):
    session = models.ForeignKey(PatrolSession, on_delete=models.CASCADE, related_name="batches")
    client_id = models.CharField(max_length=64)
    point_count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "client_id"], name="fieldwork_batch_client_id"),
        ]

    def __str__(self) -> str:
        return self.client_id


class TrackPoint(models.Model):
    """A raw fix as the phone sent it, converted to WGS-84 (`crs` records what it came in)."""

    session = models.ForeignKey(PatrolSession, on_delete=models.CASCADE, related_name="points")
    batch = models.ForeignKey(TrackBatch, on_delete=models.CASCADE, related_name="+")
    t = models.DateTimeField()
    lng = models.FloatField()
    lat = models.FloatField()
    accuracy = models.FloatField(null=True, blank=True)
    mock = models.BooleanField(default=False)
    crs = models.CharField(max_length=8, default="wgs84")

    class Meta:
        ordering = ["session_id", "t", "id"]
        indexes = [models.Index(fields=["session", "t"], name="fieldwork_point_session_t")]

    def __str__(self) -> str:
        return f"{self.session_id}@{self.t:%H:%M:%S}"


class PatrolFinding(models.Model):
    """Something a patrol found, reported as a case of channel patrol (巡查上报) in the same step."""

    session = models.ForeignKey(PatrolSession, on_delete=models.PROTECT, related_name="findings")
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="patrol_finding")
    client_id = models.CharField(max_length=64)
    lng = models.FloatField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "client_id"], name="fieldwork_finding_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.case_id}"
