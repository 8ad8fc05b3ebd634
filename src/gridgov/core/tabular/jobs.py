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

Status moves are the kernel's workflow engine: `job_workflow(model)` is a `core.workflow.Workflow` over
the job model with the one table `JOB_TRANSITIONS` (system moves only), and every move is a
compare-and-set `advance(pk, action, when=Q(...), **fields)`; `TRANSITIONS` (status → statuses it may
move to) and `move_status` are derived from it.

The file is read in a child process (`sources.open_sheet_isolated`): a hostile workbook costs the
child, never the worker. A child that dies is counted on the job (`reader_crashes`); the runner tries
once more and at the second crash fails the job for good with the reason. A job that was taken up
`MAX_ATTEMPTS` times without finishing (its worker died each time) fails instead of being resumed
again. The upload reaches the reader decrypted only in memory (the app's `source`), and the error
workbook is built in memory; `sweep_leftovers` removes plaintext temporary files older versions left.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gridgov.core.tabular import bulk
from gridgov.core.tabular.models import JobMode, JobPhase, JobStatus
from gridgov.core.tabular.sources import E_NO_ROWS, FileFault, ReaderCrashed, Sheet, open_sheet_isolated
from gridgov.core.tabular.spec import ImportSpec, jsonable, make_batch, render
from gridgov.core.tabular.validators import gettext_noop
from gridgov.core.tabular.workbook import write_error_workbook
from gridgov.core.workflow import Rule, Workflow, named, transition

log = logging.getLogger(__name__)

STALE_SECONDS = 120  # a running job without a heartbeat for this long has died

E_INTERNAL = gettext_noop("The import stopped on an internal error; resume it")
E_CONFLICT = gettext_noop("Changed in the system while the file was imported: %(reason)s")
E_CONFLICT_ROWS = gettext_noop("some rows are now duplicates; nothing was imported")

MAX_READER_CRASHES = 2  # the reader child died this often on the file: the job fails for good
MAX_ATTEMPTS = 5  # taken up this often without finishing (its worker died each time): fails

E_READER_CRASHED = gettext_noop(
    "The file could not be read within the limits of memory and time (tried %(attempts)s times); it is "
    "not tried again. Remove empty rows, columns and images far from the data, or split the file"
)
E_GAVE_UP = gettext_noop(
    "The import stopped %(attempts)s times without finishing; it is not resumed again. Upload the file "
    "again or ask the administrator"
)

# Leftovers of older versions: plaintext copies of uploads and error workbooks in the making.
PLAINTEXT_PREFIXES = ("gridgov-import-", "gridgov-errors-")


# --- status: the one table of allowed moves, on the workflow engine ------------------------------------
def _nobody(obj, principal, role: str) -> bool:
    return False


SYSTEM = (Rule("system", named("the job runner", _nobody), membership=False),)
_STALE_NOTE = "queued; failed and resumed; running with a stopped heartbeat (or forced)"
JOB_TRANSITIONS = (
    transition("claim", {JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING}, JobStatus.RUNNING, SYSTEM,
               guard_text=f"{_STALE_NOTE}; reader crashes < {MAX_READER_CRASHES}; attempts < {MAX_ATTEMPTS}"),
    transition("finish", {JobStatus.RUNNING}, JobStatus.DONE, SYSTEM),
    transition("reject", {JobStatus.RUNNING}, JobStatus.REJECTED, SYSTEM,
               guard_text="a fault of the file, or errors in all-or-nothing mode"),
    transition("fail", {JobStatus.RUNNING}, JobStatus.FAILED, SYSTEM,
               guard_text="an internal error, the reader crashed, or too many attempts"),
)  # fmt: skip
_WORKFLOWS: dict[Any, Workflow] = {}


def job_workflow(model) -> Workflow:
    """The workflow of one job model (a `TabularJob` subclass): the table above, no version field."""
    wf = _WORKFLOWS.get(model)
    if wf is None:
        wf = _WORKFLOWS[model] = Workflow(model=model, transitions=JOB_TRANSITIONS, version_field=None)
    return wf


TRANSITIONS: dict[str, frozenset[str]] = {
    status: frozenset(str(t.target) for t in JOB_TRANSITIONS if status in t.sources and t.target)
    for status in JobStatus
}


def markdown_table() -> str:
    """The job table as the docs show it (docs/kernel/tabular.md; a test keeps them equal)."""
    return Workflow(model=None, transitions=JOB_TRANSITIONS, version_field=None).markdown_table()  # type: ignore[arg-type]


def move_status(model, job_id: int, to: str, *, when: Q | None = None, **fields) -> bool:
    """Move one job to status `to` by the table's action for it (and `when`, if given), setting
    `fields` in the same UPDATE. False when the job was not in a source status (nothing changed)."""
    action = next(t.action for t in JOB_TRANSITIONS if t.target == to)
    return job_workflow(model).advance(job_id, action, when=when, **fields)


def sweep_leftovers(directory: Path) -> int:
    """Delete the plaintext temporary files an import killed mid-way left under `directory` (older
    versions decrypted uploads there). Called when the server and the worker start and when a job
    is taken up again. Returns how many were removed."""
    removed = 0
    root = Path(directory)
    if not root.is_dir():
        return 0
    for path in root.rglob("gridgov-*"):
        if path.name.startswith(PLAINTEXT_PREFIXES) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    if removed:
        log.warning("removed %s plaintext leftover(s) of killed imports under %s", removed, root)
    return removed


@contextlib.contextmanager
def memory_file(fill: Callable[[Any], None], name: str = "gridgov-upload") -> Iterator[Path]:
    """A file that lives in memory only (Linux `memfd_create`): `fill(stream)` writes it, the block gets
    a path to it that this process and its reader child can open, and nothing is ever on disk — a
    killed worker leaves no plaintext behind. Elsewhere (development on macOS) a temporary file in the
    system's temporary directory, never under the data directory."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name)
        try:
            with os.fdopen(os.dup(fd), "wb") as out:
                fill(out)
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile(prefix="gridgov-upload-") as f:  # pragma: no cover - not Linux
        fill(f)
        f.flush()
        yield Path(f.name)


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
    source(job)            a context manager giving the upload decrypted as a path that is NOT a file on
                           disk (e.g. `memory_file`: an anonymous in-memory file); the reader child
                           reads it through an inherited descriptor
    work_dir()             the app's directory for import files (swept of plaintext leftovers)
    store_error_file(job, stream) → name   keeps the finished error workbook (a binary stream in
                           memory, to be stored encrypted), returns the name to store
    context(job)           an object shared by both passes of one run, handed to the spec (e.g. places)
    masks(job)             column key → function applied to shown cells of the error workbook
    on_done(job)           called after a job finished with status done
    batch_rows()           rows per batch (one transaction each)
    """

    def __init__(
        self, *, job_model, error_model, spec_class: Callable[[Any], type[ImportSpec]],
        source: Callable[[Any], contextlib.AbstractContextManager[Path]], work_dir: Callable[[], Path],
        store_error_file: Callable[[Any, io.BytesIO], str], context: Callable[[Any], Any] | None = None,
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
    @property
    def workflow(self) -> Workflow:
        return job_workflow(self.job_model)

    def claim(self, job_id: int, *, force: bool = False) -> bool:
        """Take the job for this worker: a queued or failed job, or a running one whose heartbeat
        stopped; never one whose reader crashed twice. A job taken up `MAX_ATTEMPTS` times without
        finishing fails instead."""
        now = timezone.now()
        stale = now - dt.timedelta(seconds=STALE_SECONDS)
        dead = Q(status=JobStatus.RUNNING) if force else Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
        when = (Q(status__in=[JobStatus.QUEUED, JobStatus.FAILED]) | dead) & Q(
            reader_crashes__lt=MAX_READER_CRASHES, attempts__lt=MAX_ATTEMPTS
        )
        with contextlib.suppress(OSError):
            sweep_leftovers(self.work_dir())
        if self.workflow.advance(
            job_id, "claim", when=when,
            heartbeat_at=now, attempts=F("attempts") + 1, file_error={}, started_at=now,
        ):  # fmt: skip
            return True
        # worn out: its worker died MAX_ATTEMPTS times on it (e.g. killed by the file): fail for good
        self.workflow.advance(
            job_id, "fail", when=dead & Q(attempts__gte=MAX_ATTEMPTS), finished_at=now,
            file_error={"message": E_GAVE_UP, "params": {"attempts": MAX_ATTEMPTS}},
        )  # fmt: skip
        return False

    def run(self, job_id: int, *, force: bool = False):
        model = self.job_model
        if not self.claim(job_id, force=force):
            return model.objects.get(pk=job_id)
        job = model.objects.select_related(*self.select_related).get(pk=job_id)
        started = time.perf_counter()
        _batches[0] = 0
        try:
            while True:
                try:
                    with self.source(job) as path:
                        self._run(job, path)
                    break
                except ReaderCrashed as crash:
                    if not self._reader_crashed(job, crash):
                        break
                    job.refresh_from_db()  # once more, from the last committed batch
        except FileFault as fault:
            self.workflow.advance(job.pk, "reject", finished_at=timezone.now(),
                                  file_error={"message": fault.message, "params": jsonable(fault.params)})  # fmt: skip
        except Exception as exc:
            log.exception("import job %s failed", job.pk)
            self.workflow.advance(job.pk, "fail",
                                  file_error={"message": E_INTERNAL, "params": {}, "error": type(exc).__name__})  # fmt: skip
        finally:
            model.objects.filter(pk=job.pk).update(seconds=F("seconds") + (time.perf_counter() - started))
        job.refresh_from_db()
        if job.status in (JobStatus.DONE, JobStatus.REJECTED) and job.error_rows and not job.error_file_path:
            self.build_error_workbook(job)
            job.refresh_from_db()
        return job

    def _reader_crashed(self, job, crash: ReaderCrashed) -> bool:
        """Count the crash on the job; True to try once more, False when the job failed for good."""
        model = self.job_model
        model.objects.filter(pk=job.pk).update(
            reader_crashes=F("reader_crashes") + 1, heartbeat_at=timezone.now()
        )
        crashes = model.objects.values_list("reader_crashes", flat=True).get(pk=job.pk)
        log.warning("import job %s: the reader crashed (%s), %s time(s)", job.pk, crash.reason, crashes)
        if crashes < MAX_READER_CRASHES:
            return True
        self.workflow.advance(
            job.pk, "fail", finished_at=timezone.now(),
            file_error={"message": E_READER_CRASHED, "params": {"attempts": crashes}, "error": crash.reason},
        )  # fmt: skip
        return False

    def _run(self, job, path: Path) -> None:
        model = self.job_model
        sheet = open_sheet_isolated(path, job.file_name)
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
                sheet = open_sheet_isolated(path, job.file_name)
            rows = self._pass(job, sheet, mapping, context, write=True)
            job.refresh_from_db()
            self._finish(job, JobStatus.DONE, rows)
        finally:
            sheet.close()

    def _finish(self, job, status: str, rows: int) -> None:
        if rows == 0 and not job.error_rows:
            raise FileFault(E_NO_ROWS)
        action = "finish" if status == JobStatus.DONE else "reject"
        self.workflow.advance(job.pk, action, total=rows, finished_at=timezone.now())
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
        out = io.BytesIO()  # in memory: the shown cells may be ID numbers (no plaintext file)
        with self.source(job) as path:
            write_error_workbook(
                path, job.file_name, self.spec_class(job).map_header, errors, out, masks=masks
            )
        out.seek(0)
        name = self.store_error_file(job, out)
        self.job_model.objects.filter(pk=job.pk).update(error_file_path=name)


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


# --- what an API shows of a job ------------------------------------------------------------------------
def job_out(job, error_workbook_url: str) -> dict:
    """A job as the import APIs show it: status, progress figures, the file's fault in the user's language,
    the error workbook's address once there is one, timings."""
    figures = progress(job)
    rate = (job.cursor / job.seconds) if job.seconds and job.cursor else None
    return {
        "id": job.pk, "kind": job.kind, "mode": job.mode, "status": job.status, "phase": job.phase,
        "file_name": job.file_name, "file_format": job.file_format, "encoding": job.encoding, **figures,
        "inserted": job.inserted, "errors": job.error_rows,
        "file_error": render(job.file_error["message"], job.file_error.get("params"))
        if job.file_error.get("message") else None,
        "error_workbook_url": error_workbook_url if job.error_file_path else None,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "seconds": round(job.seconds, 3), "rows_per_second": round(rate, 1) if rate else None,
    }  # fmt: skip


def error_list(job, column_label: Callable[[str], str], limit: int = 100_000) -> list[dict]:
    """The row errors of a job (its `row_errors`), each with the column's heading and the reason in the
    user's language."""
    return [
        {
            "row": e.row,
            "column": e.column,
            "column_label": column_label(e.column) if e.column else "",
            "message": render(e.message, e.params),
        }
        for e in job.row_errors.all()[:limit]
    ]
