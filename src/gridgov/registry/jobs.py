"""Import jobs: storing the upload (encrypted at rest), running it in committed batches with a
persisted cursor, resuming after a crash, the error workbook and the templates.

`run(job_id)` is what the Huey task calls; it is safe to call again on a job that died half-way: it
claims the job, skips the rows before the committed cursor (reading them only to rebuild the
duplicate checks) and carries on.
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
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.scope import scope_for
from gridgov.registry import importer, vault
from gridgov.registry.models import (
    ImportJob,
    ImportKind,
    ImportMode,
    ImportPhase,
    ImportRowError,
    ImportStatus,
)
from gridgov.registry.pii import mask_id, mask_phone, policy_for
from gridgov.registry.sources import E_NO_ROWS, FileFault, Sheet, column_letter, open_sheet
from gridgov.registry.validators import (
    check_id_number,
    check_phone,
    gettext_noop,
    normalise_id,
    normalise_phone,
)

log = logging.getLogger(__name__)

STALE_SECONDS = 120  # a running job without a heartbeat for this long has died
MAX_COMMENTS = 20_000  # cell comments in one error workbook (the reason column has them all)
SHOWN_CELL = 500  # characters of a cell copied into the error workbook


E_INTERNAL = gettext_noop("The import stopped on an internal error; resume it")


class SimulatedCrash(BaseException):  # noqa: N818 - a stand-in for SIGKILL in tests
    """Raised by the test hook inside a batch's transaction: like a killed process, it skips every
    `except Exception` and leaves the job running with its last committed cursor."""


# tests set this to crash the runner inside the transaction of the batch after that many batches
# (counted over one call of `run`, both passes)
crash_after_batches: int | None = None
_batches = [0]


def storage_dir() -> Path:
    path = Path(settings.DATA_DIR) / "registry" / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(job: ImportJob, stream) -> None:
    path = storage_dir() / f"{job.pk}-upload.bin"
    vault.encrypt_file(stream, path, field="upload")
    job.file_path = path.name
    job.save(update_fields=["file_path"])


@contextlib.contextmanager
def plain_copy(name: str, field: str):
    """The decrypted file in a private temporary file, removed afterwards."""
    fd, tmp = tempfile.mkstemp(prefix="gridgov-import-", dir=storage_dir())
    try:
        with os.fdopen(fd, "wb") as out:
            vault.decrypt_file(storage_dir() / name, out, field=field)
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


# --- claiming and running ----------------------------------------------------------------------------
def claim(job_id: int, *, force: bool = False) -> bool:
    """Take the job for this worker: a queued or failed job, or a running one whose heartbeat stopped."""
    now = timezone.now()
    stale = now - dt.timedelta(seconds=STALE_SECONDS)
    q = Q(status__in=[ImportStatus.QUEUED, ImportStatus.FAILED]) | Q(
        status=ImportStatus.RUNNING, heartbeat_at__lt=stale
    )
    if force:
        q |= Q(status=ImportStatus.RUNNING)
    updated = ImportJob.objects.filter(q, pk=job_id).update(
        status=ImportStatus.RUNNING,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        file_error={},
        started_at=now,
    )
    return bool(updated)


def _visible_for(job: ImportJob):
    if job.created_by_id is None:
        return None
    scope = scope_for(job.created_by)
    if scope.all:
        return None
    return lambda path: scope.can_see_path(path)


def run(job_id: int, *, force: bool = False) -> ImportJob:
    if not claim(job_id, force=force):
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    started = time.perf_counter()
    _batches[0] = 0
    try:
        with plain_copy(job.file_path, "upload") as path:
            _run(job, path)
    except FileFault as fault:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.REJECTED,
            file_error={"message": fault.message, "params": _jsonable(fault.params)},
            finished_at=timezone.now(),
        )
    except Exception as exc:
        log.exception("import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED,
            file_error={"message": E_INTERNAL, "params": {},
                        "error": type(exc).__name__},
        )  # fmt: skip
    finally:
        ImportJob.objects.filter(pk=job.pk).update(seconds=F("seconds") + (time.perf_counter() - started))
    job.refresh_from_db()
    if (
        job.status in (ImportStatus.DONE, ImportStatus.REJECTED)
        and job.error_rows
        and not job.error_file_path
    ):
        build_error_workbook(job)
        job.refresh_from_db()
    return job


def _jsonable(params: dict) -> dict:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}


def _run(job: ImportJob, path: Path) -> None:
    sheet = open_sheet(path, job.file_name)
    try:
        mapping = importer.map_header(job.kind, sheet.header)
        ImportJob.objects.filter(pk=job.pk).update(
            encoding=sheet.encoding, file_format=sheet.format, total=job.total or sheet.total
        )
        places = importer.Places(_visible_for(job))
        if job.mode == ImportMode.ALL_OR_NOTHING and job.phase == ImportPhase.VALIDATE:
            rows = _pass(job, sheet, mapping, places, write=False)
            job.refresh_from_db()
            if job.error_rows:
                _finish(job, ImportStatus.REJECTED, rows)
                return
            ImportJob.objects.filter(pk=job.pk).update(phase=ImportPhase.INSERT, cursor=0, total=rows)
            job.refresh_from_db()
            sheet.close()
            sheet = open_sheet(path, job.file_name)
        rows = _pass(job, sheet, mapping, places, write=True)
        job.refresh_from_db()
        _finish(job, ImportStatus.DONE, rows)
    finally:
        sheet.close()


def _finish(job: ImportJob, status: str, rows: int) -> None:
    if rows == 0 and not job.error_rows:
        raise FileFault(E_NO_ROWS)
    ImportJob.objects.filter(pk=job.pk).update(status=status, total=rows, finished_at=timezone.now())
    if status == ImportStatus.DONE and job.kind == ImportKind.HOUSES:
        from gridgov.territory.services import recount_households

        recount_households()


def _pass(job: ImportJob, sheet: Sheet, mapping: dict[str, int], places, *, write: bool) -> int:
    """One pass over the rows: validate (and write) batch by batch. Returns the number of data rows."""
    spec = importer.SPECS[job.kind](job_id=job.pk, user_id=job.created_by_id, places=places)
    size = max(1, int(settings.GRIDGOV_REGISTRY_BATCH_ROWS))
    cursor = job.cursor
    done = 0
    pending: list[tuple[int, list]] = []
    # PostgreSQL, outside a caller's transaction: a writer thread commits batch k while this thread reads
    # and validates batch k + 1 (the database works while Python works). Batches commit in order.
    writer = (
        _Writer(job, spec)
        if write and spec.pipelined and importer.is_postgres() and not transaction.get_connection().in_atomic_block
        and job.mode == ImportMode.VALID_ROWS
        else None
    )  # fmt: skip

    def flush(rows: list[tuple[int, list]]) -> None:
        batch = importer.make_batch(job.kind, rows, mapping, sheet.formulas)
        if writer is not None:
            records = spec.validate(batch)
            writer.submit(spec.prepare(records) if records else None, batch, done)
            return
        with transaction.atomic():
            records = spec.validate(batch)
            conflict = write and job.mode == ImportMode.ALL_OR_NOTHING and bool(batch.errors)
            if not conflict:
                inserted = spec.insert(records) if write else 0
                _commit_batch(job, batch, done, inserted)
        if conflict:
            # A conflict that appeared after the first pass: take everything back, change nothing.
            with transaction.atomic():
                spec.undo()
                _save_errors(job, batch)
                ImportJob.objects.filter(pk=job.pk).update(
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
                    spec.remember(importer.make_batch(job.kind, replay, mapping))
                    replay = []
                continue
            if replay:
                spec.remember(importer.make_batch(job.kind, replay, mapping))
                replay = []
            pending.append((number, cells))
            if len(pending) >= size:
                flush(pending)
                pending = []
        if replay:
            spec.remember(importer.make_batch(job.kind, replay, mapping))
        if pending:
            flush(pending)
    finally:
        if writer is not None:
            writer.close()
    return done


def _commit_batch(job: ImportJob, batch, done: int, inserted: int) -> None:
    """Inside the batch's transaction: its errors, the cursor, the counters (and the test's crash)."""
    _save_errors(job, batch)
    ImportJob.objects.filter(pk=job.pk).update(
        cursor=done,
        inserted=F("inserted") + inserted,
        error_rows=F("error_rows") + len({e[0] for e in batch.errors}),
        heartbeat_at=timezone.now(),
    )
    _batches[0] += 1
    if crash_after_batches is not None and _batches[0] > crash_after_batches:
        raise SimulatedCrash()


class _Writer:
    """Commits prepared batches in order on its own database connection, one transaction each."""

    def __init__(self, job: ImportJob, spec):
        self.job, self.spec = job, spec
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
                        _commit_batch(self.job, batch, done, inserted)
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


class _Stopped(FileFault):
    def __init__(self):
        super().__init__(importer.E_CONFLICT, reason=importer.E_CONFLICT_ROWS)


def _save_errors(job: ImportJob, batch) -> None:
    if batch.errors:
        ImportRowError.objects.bulk_create(
            [
                ImportRowError(job_id=job.pk, row=row, column=key, message=message, params=_jsonable(params))
                for row, key, message, params in batch.errors
            ],
            batch_size=2000,
        )


# --- messages ----------------------------------------------------------------------------------------
def render(message: str, params: dict | None) -> str:
    text = _(message)
    if params:
        try:
            return text % {k: _(v) if isinstance(v, str) and v else v for k, v in params.items()}
        except (KeyError, TypeError, ValueError):
            return text
    return text


def progress(job: ImportJob) -> dict:
    """Figures for the progress bar: rows done in this phase, the total, and one overall percentage."""
    total = job.total or 0
    done = total if job.status in (ImportStatus.DONE,) else min(job.cursor, total) if total else job.cursor
    if job.mode == ImportMode.ALL_OR_NOTHING and total:
        overall = (done + (total if job.phase == ImportPhase.INSERT else 0)) / (2 * total)
        if job.status in (ImportStatus.DONE, ImportStatus.REJECTED):
            overall = 1.0
    else:
        overall = (done / total) if total else (1.0 if job.status == ImportStatus.DONE else 0.0)
    return {"processed": done, "total": total, "percent": round(100 * min(1.0, overall), 1)}


# --- the error workbook ------------------------------------------------------------------------------
def build_error_workbook(job: ImportJob) -> None:
    """An .xlsx with the bad rows as they came (valid ID numbers and phones masked unless the importer
    may see them), every bad cell marked red with the reason as a comment, and a column of reasons."""
    import xlsxwriter

    errors: dict[int, list[tuple[str, str]]] = {}
    for row, column, message, params in ImportRowError.objects.filter(job=job).values_list(
        "row", "column", "message", "params"
    ):
        errors.setdefault(row, []).append((column, render(message, params)))
    if not errors:
        return
    user = job.created_by
    policy = policy_for(user)
    reveal_id = bool(policy.id_number)
    reveal_phone = bool(policy.phone)
    out_fd, out_tmp = tempfile.mkstemp(prefix="gridgov-errors-", dir=storage_dir())
    os.close(out_fd)
    try:
        with plain_copy(job.file_path, "upload") as path:
            sheet = open_sheet(path, job.file_name)
            try:
                mapping = importer.map_header(job.kind, sheet.header)
                key_of = {idx: key for key, idx in mapping.items()}
                wb = xlsxwriter.Workbook(out_tmp, {"constant_memory": True, "strings_to_formulas": False})
                ws = wb.add_worksheet(_("Errors"))
                bad = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
                bold = wb.add_format({"bold": True})
                header = [_("Row"), *sheet.header, _("Reasons")]
                ws.write_row(0, 0, header, bold)
                out_row = 1
                comments = 0
                for number, cells in sheet.rows:
                    if number not in errors:
                        continue
                    marks = dict(errors[number])
                    ws.write_number(out_row, 0, number)
                    for idx in range(len(sheet.header)):
                        value = cells[idx] if idx < len(cells) else ""
                        key = key_of.get(idx, "")
                        text = importer.cell_text(value)
                        if key == "id_number" and not reveal_id and not check_id_number(normalise_id(text)):
                            text = mask_id(normalise_id(text))
                        elif key == "phone" and not reveal_phone and not check_phone(normalise_phone(text)):
                            text = mask_phone(normalise_phone(text))
                        if len(text) > SHOWN_CELL:
                            text = text[:SHOWN_CELL] + "…"
                        if key in marks:
                            ws.write_string(out_row, idx + 1, text, bad)
                            if comments < MAX_COMMENTS:
                                ws.write_comment(out_row, idx + 1, marks[key])
                                comments += 1
                        else:
                            ws.write_string(out_row, idx + 1, text)
                    reasons = "；".join(
                        (f"{_cell_label(sheet.header, mapping, col)}: {msg}" if col else msg)
                        for col, msg in errors[number]
                    )
                    ws.write_string(out_row, len(sheet.header) + 1, reasons)
                    out_row += 1
                ws.freeze_panes(1, 0)
                wb.close()
            finally:
                sheet.close()
        name = f"{job.pk}-errors.bin"
        with open(out_tmp, "rb") as src:
            vault.encrypt_file(src, storage_dir() / name, field="errors")
        ImportJob.objects.filter(pk=job.pk).update(error_file_path=name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(out_tmp)


def _cell_label(header: list[str], mapping: dict[str, int], key: str) -> str:
    idx = mapping.get(key)
    if idx is None:
        return key
    return f"{header[idx]}({column_letter(idx + 1)})"


def error_workbook_bytes(job: ImportJob) -> bytes:
    buffer = io.BytesIO()
    vault.decrypt_file(storage_dir() / job.error_file_path, buffer, field="errors")
    return buffer.getvalue()


def delete_files(job: ImportJob) -> None:
    for name in (job.file_path, job.error_file_path):
        if name:
            with contextlib.suppress(OSError):
                (storage_dir() / name).unlink()


# --- templates -----------------------------------------------------------------------------------------
def template(kind: str, file_format: str) -> bytes:
    columns = importer.COLUMNS[kind]
    required = set(importer.REQUIRED_HEADERS[kind])
    if file_format == "csv":
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([c.header for c in columns])
        writer.writerow([c.example for c in columns])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    ws = wb.add_worksheet(_("Data"))
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    text = wb.add_format({"num_format": "@"})
    for i, c in enumerate(columns):
        ws.write_string(0, i, c.header + ("*" if c.key in required else ""), bold)
        ws.set_column(i, i, max(10, len(c.header) * 2 + 4), text)
        if c.example:
            ws.write_string(1, i, c.example)
        choices = {
            "residence_type": ["户籍", "流动", "租住"],
            "gender": ["男", "女"],
            "relation": ["户主", "配偶", "子女", "父母", "孙子女", "其他"],
            "use": ["自住", "出租", "商用", "空置"],
            "kind": ["企业", "商铺", "机构"],
        }.get(c.key)
        if choices:
            ws.data_validation(1, i, 100_000, i, {"validate": "list", "source": choices})
    ws.freeze_panes(1, 0)
    notes = wb.add_worksheet(_("Instructions"))
    notes.write_row(0, 0, [_("Column"), _("Required"), _("Notes")], bold)
    for r, c in enumerate(columns, 1):
        notes.write_row(r, 0, [c.header, "是" if c.key in required else "", c.note])
    notes.set_column(0, 0, 16)
    notes.set_column(2, 2, 60)
    wb.close()
    return buffer.getvalue()
