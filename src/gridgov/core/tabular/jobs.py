"""The resumable import job runner: a stored upload worked through in committed batches with a persisted
cursor, progress figures, resumption after a crash, the error workbook.

An app declares a `JobRunner` with its job model (a `TabularJob` subclass), its row-error model, which
`ImportSpec` runs a job, and where the upload lives; a task calls `runner.run(job_id)`. Each batch runs
in one transaction that writes the batch's rows, its row errors and the job's `cursor` (rows done): a
crash loses at most the batch in flight, and `run` again resumes after the last committed batch without
writing any row twice (it reads the rows before the cursor only to rebuild the duplicate checks).

- mode `valid_rows`: one pass; valid rows are imported, bad rows reported.
- mode `all_or_nothing`: a first pass checks every row and writes nothing but errors; only a file
  without errors is imported, in a second pass (which checks each batch again: a conflict that appeared
  in between makes the job take back what it imported, so nothing changes).

Status changes go through `move_status` and the one table `TRANSITIONS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gridgov.core.tabular import bulk
from gridgov.core.tabular.models import JobMode, JobPhase, JobStatus
from gridgov.core.tabular.sources import E_NO_ROWS, FileFault, Sheet, open_sheet
from gridgov.core.tabular.spec import ImportSpec, jsonable, make_batch, render
from gridgov.core.tabular.validators import gettext_noop
from gridgov.core.tabular.workbook import write_error_workbook

log = logging.getLogger(__name__)

STALE_SECONDS = 120  # a running job without a heartbeat for this long has died

E_INTERNAL = gettext_noop("The import stopped on an internal error; resume it")
E_CONFLICT = gettext_noop("Changed in the system while the file was imported: %(reason)s")
E_CONFLICT_ROWS = gettext_noop("some rows are now duplicates; nothing was imported")

# --- status: the one table of allowed moves -------------------------------------------------------------
TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING}),
    # running → running: a worker takes over a job whose heartbeat stopped (or a forced resume)
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, JobStatus.DONE, JobStatus.REJECTED, JobStatus.FAILED}),
    JobStatus.FAILED: frozenset({JobStatus.RUNNING}),  # resumed
    JobStatus.DONE: frozenset(),
    JobStatus.REJECTED: frozenset(),
}


def move_status(model, job_id: int, to: str, *, when: Q | None = None, **fields) -> bool:
    """Move one job to status `to` from any status the table allows (and `when`, if given), setting
    `fields` in the same UPDATE. False when the job was not in such a status (nothing changed)."""
    sources = [s for s, targets in TRANSITIONS.items() if to in targets]
    qs = model.objects.filter(pk=job_id, status__in=sources)
    if when is not None:
        qs = qs.filter(when)
    return bool(qs.update(status=to, **fields))


class SimulatedCrash(BaseException):  # noqa: N818 - a stand-in for SIGKILL in tests
    """Raised by the test hook inside a batch's transaction: like a killed process, it skips every
    `except Exception` and leaves the job running with its last committed cursor."""


# tests set this to crash the runner inside the transaction of the batch after that many batches
# (counted over one call of `run`, both passes)
crash_after_batches: int | None = None
_batches = [0]


class _Stopped(FileFault):
    def __init__(self):
        super().__init__(E_CONFLICT, reason=E_CONFLICT_ROWS)


def progress(job) -> dict:
    """Figures for the progress bar: rows done in this phase, the total, and one overall percentage."""
    total = job.total or 0
    done = total if job.status in (JobStatus.DONE,) else min(job.cursor, total) if total else job.cursor
    if job.mode == JobMode.ALL_OR_NOTHING and total:
        overall = (done + (total if job.phase == JobPhase.INSERT else 0)) / (2 * total)
        if job.status in (JobStatus.DONE, JobStatus.REJECTED):
            overall = 1.0
    else:
        overall = (done / total) if total else (1.0 if job.status == JobStatus.DONE else 0.0)
    return {"processed": done, "total": total, "percent": round(100 * min(1.0, overall), 1)}


class JobRunner:
    """Runs the jobs of one job model.

    spec_class(job)        the ImportSpec subclass for this job
    source(job)            a context manager giving the upload as a plain file path
    work_dir()             a private directory for temporary files (the error workbook in the making)
    store_error_file(job, path) → name   keeps the finished error workbook, returns the name to store
    context(job)           an object shared by both passes of one run, handed to the spec (e.g. places)
    masks(job)             column key → function applied to shown cells of the error workbook
    on_done(job)           called after a job finished with status done
    batch_rows()           rows per batch (one transaction each)
    """

    def __init__(
        self, *, job_model, error_model, spec_class: Callable[[Any], type[ImportSpec]],
        source: Callable[[Any], contextlib.AbstractContextManager[Path]], work_dir: Callable[[], Path],
        store_error_file: Callable[[Any, Path], str], context: Callable[[Any], Any] | None = None,
        masks: Callable[[Any], dict[str, Callable[[str], str]]] | None = None,
        on_done: Callable[[Any], None] | None = None, batch_rows: Callable[[], int] = lambda: 2000,
        select_related: tuple[str, ...] = ("created_by",),
    ):  # fmt: skip
        self.job_model = job_model
        self.error_model = error_model
        self.spec_class = spec_class
        self.source = source
        self.work_dir = work_dir
        self.store_error_file = store_error_file
        self.context = context or (lambda job: None)
        self.masks = masks or (lambda job: {})
        self.on_done = on_done
        self.batch_rows = batch_rows
        self.select_related = select_related

    # --- claiming and running ---------------------------------------------------------------------------
    def claim(self, job_id: int, *, force: bool = False) -> bool:
        """Take the job for this worker: a queued or failed job, or a running one whose heartbeat stopped."""
        now = timezone.now()
        stale = now - dt.timedelta(seconds=STALE_SECONDS)
        when = Q(status__in=[JobStatus.QUEUED, JobStatus.FAILED]) | Q(
            status=JobStatus.RUNNING, heartbeat_at__lt=stale
        )
        if force:
            when |= Q(status=JobStatus.RUNNING)
        return move_status(
            self.job_model, job_id, JobStatus.RUNNING, when=when,
            heartbeat_at=now, attempts=F("attempts") + 1, file_error={}, started_at=now,
        )  # fmt: skip

    def run(self, job_id: int, *, force: bool = False):
        model = self.job_model
        if not self.claim(job_id, force=force):
            return model.objects.get(pk=job_id)
        job = model.objects.select_related(*self.select_related).get(pk=job_id)
        started = time.perf_counter()
        _batches[0] = 0
        try:
            with self.source(job) as path:
                self._run(job, path)
        except FileFault as fault:
            move_status(model, job.pk, JobStatus.REJECTED, finished_at=timezone.now(),
                        file_error={"message": fault.message, "params": jsonable(fault.params)})  # fmt: skip
        except Exception as exc:
            log.exception("import job %s failed", job.pk)
            move_status(model, job.pk, JobStatus.FAILED,
                        file_error={"message": E_INTERNAL, "params": {}, "error": type(exc).__name__})  # fmt: skip
        finally:
            model.objects.filter(pk=job.pk).update(seconds=F("seconds") + (time.perf_counter() - started))
        job.refresh_from_db()
        if job.status in (JobStatus.DONE, JobStatus.REJECTED) and job.error_rows and not job.error_file_path:
            self.build_error_workbook(job)
            job.refresh_from_db()
        return job

    def _run(self, job, path: Path) -> None:
        model = self.job_model
        sheet = open_sheet(path, job.file_name)
        try:
            mapping = self.spec_class(job).map_header(sheet.header)
            model.objects.filter(pk=job.pk).update(
                encoding=sheet.encoding, file_format=sheet.format, total=job.total or sheet.total
            )
            context = self.context(job)
            if job.mode == JobMode.ALL_OR_NOTHING and job.phase == JobPhase.VALIDATE:
                rows = self._pass(job, sheet, mapping, context, write=False)
                job.refresh_from_db()
                if job.error_rows:
                    self._finish(job, JobStatus.REJECTED, rows)
                    return
                model.objects.filter(pk=job.pk).update(phase=JobPhase.INSERT, cursor=0, total=rows)
                job.refresh_from_db()
                sheet.close()
                sheet = open_sheet(path, job.file_name)
            rows = self._pass(job, sheet, mapping, context, write=True)
            job.refresh_from_db()
            self._finish(job, JobStatus.DONE, rows)
        finally:
            sheet.close()

    def _finish(self, job, status: str, rows: int) -> None:
        if rows == 0 and not job.error_rows:
            raise FileFault(E_NO_ROWS)
        move_status(self.job_model, job.pk, status, total=rows, finished_at=timezone.now())
        if status == JobStatus.DONE and self.on_done is not None:
            self.on_done(job)

    def _pass(self, job, sheet: Sheet, mapping: dict[str, int], context, *, write: bool) -> int:
        """One pass over the rows: validate (and write) batch by batch. Returns the number of data rows."""
        spec = self.spec_class(job)(job_id=job.pk, user_id=job.created_by_id, context=context)
        size = max(1, int(self.batch_rows()))
        cursor = job.cursor
        done = 0
        pending: list[tuple[int, list]] = []
        # PostgreSQL, outside a caller's transaction: a writer thread commits batch k while this thread
        # reads and validates batch k + 1 (the database works while Python works). Batches commit in order.
        writer = (
            _Writer(self, job, spec)
            if write and spec.pipelined and bulk.is_postgres()
            and not transaction.get_connection().in_atomic_block and job.mode == JobMode.VALID_ROWS
            else None
        )  # fmt: skip

        def flush(rows: list[tuple[int, list]]) -> None:
            batch = make_batch(rows, mapping, sheet.formulas)
            if writer is not None:
                records = spec.validate(batch)
                writer.submit(spec.prepare(records) if records else None, batch, done)
                return
            with transaction.atomic():
                records = spec.validate(batch)
                conflict = write and job.mode == JobMode.ALL_OR_NOTHING and bool(batch.errors)
                if not conflict:
                    inserted = spec.insert(records) if write else 0
                    self._commit_batch(job, batch, done, inserted)
            if conflict:
                # A conflict that appeared after the first pass: take everything back, change nothing.
                with transaction.atomic():
                    spec.undo()
                    self._save_errors(job, batch)
                    self.job_model.objects.filter(pk=job.pk).update(
                        inserted=0, error_rows=len({e[0] for e in batch.errors}), cursor=done
                    )
                raise _Stopped()

        replay: list[tuple[int, list]] = []
        try:
            for number, cells in sheet.rows:
                done += 1
                if done <= cursor:  # committed before a crash: only rebuild the duplicate checks
                    replay.append((number, cells))
                    if len(replay) >= size:
                        spec.remember(make_batch(replay, mapping))
                        replay = []
                    continue
                if replay:
                    spec.remember(make_batch(replay, mapping))
                    replay = []
                pending.append((number, cells))
                if len(pending) >= size:
                    flush(pending)
                    pending = []
            if replay:
                spec.remember(make_batch(replay, mapping))
            if pending:
                flush(pending)
        finally:
            if writer is not None:
                writer.close()
        return done

    def _commit_batch(self, job, batch, done: int, inserted: int) -> None:
        """Inside the batch's transaction: its errors, the cursor, the counters (and the test's crash)."""
        self._save_errors(job, batch)
        self.job_model.objects.filter(pk=job.pk).update(
            cursor=done,
            inserted=F("inserted") + inserted,
            error_rows=F("error_rows") + len({e[0] for e in batch.errors}),
            heartbeat_at=timezone.now(),
        )
        _batches[0] += 1
        if crash_after_batches is not None and _batches[0] > crash_after_batches:
            raise SimulatedCrash()

    def _save_errors(self, job, batch) -> None:
        if batch.errors:
            self.error_model.objects.bulk_create(
                [
                    self.error_model(
                        job_id=job.pk, row=row, column=key, message=message, params=jsonable(params)
                    )
                    for row, key, message, params in batch.errors
                ],
                batch_size=2000,
            )

    # --- the error workbook -----------------------------------------------------------------------------
    def build_error_workbook(self, job) -> None:
        """An .xlsx with the bad rows as they came (cells passed through the runner's masks), every bad
        cell marked red with the reason as a comment, and a column of reasons; kept by store_error_file."""
        errors: dict[int, list[tuple[str, str]]] = {}
        for row, column, message, params in self.error_model.objects.filter(job=job).values_list(
            "row", "column", "message", "params"
        ):
            errors.setdefault(row, []).append((column, render(message, params)))
        if not errors:
            return
        masks = self.masks(job)
        out_fd, out_tmp = tempfile.mkstemp(prefix="gridgov-errors-", dir=self.work_dir())
        os.close(out_fd)
        try:
            with self.source(job) as path:
                write_error_workbook(
                    path, job.file_name, self.spec_class(job).map_header, errors, out_tmp, masks=masks
                )
            name = self.store_error_file(job, Path(out_tmp))
            self.job_model.objects.filter(pk=job.pk).update(error_file_path=name)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(out_tmp)


class _Writer:
    """Commits prepared batches in order on its own database connection, one transaction each."""

    def __init__(self, runner: JobRunner, job, spec):
        self.runner, self.job, self.spec = runner, job, spec
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"import-{job.pk}-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from django.db import connections

        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if self.error is not None:
                    continue  # drain: the reading thread stops at its next submit
                prepared, batch, done = item
                try:
                    with transaction.atomic():
                        inserted = self.spec.apply(prepared) if prepared is not None else 0
                        self.runner._commit_batch(self.job, batch, done, inserted)
                except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
                    self.error = exc
        finally:
            connections.close_all()

    def submit(self, prepared, batch, done: int) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((prepared, batch, done))

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
