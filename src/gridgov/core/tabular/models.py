"""The abstract import job: an app's concrete job model inherits it (adding what it needs, e.g. the
kind of import and the importer's area) and hands it to a `JobRunner`; its row errors inherit
`TabularRowError` with a foreign key named `job`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class JobMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")
    VALID_ROWS = "valid_rows", _("Import the valid rows")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Rejected: errors found, nothing imported")
    FAILED = "failed", _("Failed")


class JobPhase(models.TextChoices):
    VALIDATE = "validate", _("Checking every row")
    INSERT = "insert", _("Importing")


class TabularJob(models.Model):
    """One uploaded file and its progress. `cursor` (rows done) is committed in the same transaction as
    each batch, so a crashed job resumes after its last committed batch and never writes a row twice."""

    mode = models.CharField(max_length=16, choices=JobMode.choices)
    status = models.CharField(
        max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    phase = models.CharField(max_length=12, choices=JobPhase.choices, default=JobPhase.VALIDATE)
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)  # csv | xlsx
    encoding = models.CharField(max_length=16, blank=True, default="")
    file_path = models.CharField(max_length=300, help_text="the upload, encrypted, under the data directory")
    file_size = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="data rows in the file")
    cursor = models.PositiveIntegerField(default=0, help_text="data rows done and committed")
    inserted = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    file_error = models.JSONField(default=dict, blank=True, help_text="a fault of the whole file")
    error_file_path = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="times a worker took the job")
    reader_crashes = models.PositiveSmallIntegerField(
        default=0, help_text="times the reader child died on this file; at two the job fails for good"
    )
    seconds = models.FloatField(default=0)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class TabularRowError(models.Model):
    """One bad cell (or row) of an import: the row number in the file, the column, the reason. The value
    itself is not stored (it may be an ID number); the error workbook reads it from the file."""

    row = models.PositiveIntegerField(help_text="1-based row number in the sheet, header = 1")
    column = models.CharField(max_length=40, blank=True, default="")
    message = models.CharField(max_length=300, help_text="English msgid, translated on output")
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
