"""Registry import jobs on the tabular kernel's runner: where the upload lives (encrypted at rest), which
spec runs a job, the error workbook (the uploader's rows as uploaded) and the templates.

`run(job_id)` is what the Huey task calls; it is safe to call again on a job that died half-way (see
`gridgov.core.tabular.jobs`).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from django.conf import settings

from gridgov.accounts.scope import scope_for
from gridgov.core.tabular import jobs as runner
from gridgov.core.tabular.spec import render
from gridgov.core.tabular.workbook import template as spec_template
from gridgov.registry import importer, vault
from gridgov.registry.models import ImportJob, ImportKind, ImportRowError
from gridgov.territory.places import Places

__all__ = ["STALE_SECONDS", "progress", "render", "run"]

STALE_SECONDS = runner.STALE_SECONDS
progress = runner.progress


def storage_dir() -> Path:
    path = Path(settings.DATA_DIR) / "registry" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(job: ImportJob, stream) -> None:
    path = storage_dir() / f"{job.pk}-upload.bin"
    vault.encrypt_file(stream, path, field="upload")
    job.file_path = path.name
    job.save(update_fields=["file_path"])


def plain_copy(name: str, field: str):
    """The decrypted file as a path to an in-memory file (never a file on disk: a worker killed
    mid-import leaves no plaintext under the data directory)."""
    return runner.memory_file(lambda out: vault.decrypt_file(storage_dir() / name, out, field=field))


def _store_error_file(job: ImportJob, stream) -> str:
    name = f"{job.pk}-errors.bin"
    vault.encrypt_file(stream, storage_dir() / name, field="errors")
    return name


def _places(job: ImportJob) -> Places:
    """The buildings the job may import into: all of them for the system, else the importer's scope."""
    if job.created_by_id is None:
        return Places(None)
    scope = scope_for(job.created_by)
    return Places(None if scope.all else scope.can_see_path)


def _masks(job: ImportJob) -> dict:
    """No masks: the error workbook gives the uploader their own rows as they uploaded them, so that they
    can correct the bad cells and upload the workbook again. Only the uploader, while they hold the import
    right, downloads it, and every download is logged (selectors.error_workbook_job)."""
    return {}


def _done(job: ImportJob) -> None:
    if job.kind == ImportKind.HOUSES:
        from gridgov.territory.services import recount_households

        recount_households()


RUNNER = runner.JobRunner(
    job_model=ImportJob,
    error_model=ImportRowError,
    spec_class=lambda job: importer.SPECS[job.kind],
    source=lambda job: plain_copy(job.file_path, "upload"),
    work_dir=storage_dir,
    store_error_file=_store_error_file,
    context=_places,
    masks=_masks,
    on_done=_done,
    batch_rows=lambda: settings.GRIDGOV_REGISTRY_BATCH_ROWS,
)


def run(job_id: int, *, force: bool = False) -> ImportJob:
    return RUNNER.run(job_id, force=force)


def build_error_workbook(job: ImportJob) -> None:
    RUNNER.build_error_workbook(job)


def error_workbook_bytes(job: ImportJob) -> bytes:
    buffer = io.BytesIO()
    vault.decrypt_file(storage_dir() / job.error_file_path, buffer, field="errors")
    return buffer.getvalue()


def delete_files(job: ImportJob) -> None:
    for name in (job.file_path, job.error_file_path):
        if name:
            with contextlib.suppress(OSError):
                (storage_dir() / name).unlink()


def template(kind: str, file_format: str) -> bytes:
    spec = importer.SPECS[kind]
    return spec_template(spec.columns, spec.required, file_format)


def column_label(job: ImportJob, key: str) -> str:
    """The heading of a column of the job's kind in the user's language (the template's heading)."""
    return importer.SPECS[job.kind].column_label(key) if key else ""
