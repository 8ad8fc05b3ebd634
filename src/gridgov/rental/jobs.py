"""Rental import jobs on the tabular kernel's runner (like the registry's, registry/jobs.py): where the
upload lives (encrypted at rest, under DATA_DIR/rental/imports), which spec runs a job, the importer's
scope as the runner's context, the error workbook and the templates.

`run(job_id)` is what the Huey task calls; it is safe to call again on a job that died half-way (see
`gridgov.core.tabular.jobs`).
"""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings

from gridgov.accounts.scope import scope_for
from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular.spec import render
from gridgov.core.tabular.workbook import template as spec_template
from gridgov.registry import vault
from gridgov.rental import importer
from gridgov.rental.models import RentalImportJob, RentalImportRowError
from gridgov.territory.places import Places

__all__ = ["STALE_SECONDS", "progress", "render", "run"]

STALE_SECONDS = runner.STALE_SECONDS
progress = runner.progress


def storage_dir() -> Path:
    path = Path(settings.DATA_DIR) / "rental" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def format_of(name: str) -> str:
    lower = (name or "").lower()
    return "xlsx" if lower.endswith((".xlsx", ".xlsm")) else "xls" if lower.endswith(".xls") else "csv"


def store_upload(job: RentalImportJob, stream) -> None:
    path = storage_dir() / f"{job.pk}-upload.bin"
    vault.encrypt_file(stream, path, field="upload")
    job.file_path = path.name
    job.save(update_fields=["file_path"])


def _store_error_file(job: RentalImportJob, stream) -> str:
    name = f"{job.pk}-errors.bin"
    vault.encrypt_file(stream, storage_dir() / name, field="errors")
    return name


def _places(job: RentalImportJob) -> Places:
    """The buildings the job may import into: the importer's scope."""
    if job.created_by_id is None:
        return Places(None)
    scope = scope_for(job.created_by)
    return Places(None if scope.all else scope.can_see_path)


RUNNER = runner.JobRunner(
    job_model=RentalImportJob,
    error_model=RentalImportRowError,
    spec_class=lambda job: importer.SPECS[job.kind],
    source=lambda job: runner.memory_file(
        lambda out: vault.decrypt_file(storage_dir() / job.file_path, out, field="upload")
    ),
    work_dir=storage_dir,
    store_error_file=_store_error_file,
    context=_places,
    batch_rows=lambda: settings.GRIDGOV_REGISTRY_BATCH_ROWS,
)


def run(job_id: int, *, force: bool = False) -> RentalImportJob:
    return RUNNER.run(job_id, force=force)


def error_workbook_bytes(job: RentalImportJob) -> bytes:
    buffer = io.BytesIO()
    vault.decrypt_file(storage_dir() / job.error_file_path, buffer, field="errors")
    return buffer.getvalue()


def template(kind: str, file_format: str) -> bytes:
    spec = importer.SPECS[kind]
    return spec_template(spec.columns, spec.required, file_format)


def column_label(job: RentalImportJob, key: str) -> str:
    return importer.SPECS[job.kind].column_label(key) if key else ""


def error_rows(job: RentalImportJob) -> list[dict]:
    return runner.error_list(job, importer.SPECS[job.kind].column_label)


def job_out(job: RentalImportJob, error_workbook_url: str) -> dict:
    return runner.job_out(job, error_workbook_url)
