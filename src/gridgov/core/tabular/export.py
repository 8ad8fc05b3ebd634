"""Streamed export of a queryset as .csv or .xlsx, with a mask per column.

An app declares an `ExportSpec`: its columns (header, how to get the value from an object, and an
optional `mask` for personal data) and what to select with the rows. `ExportSpec.rows` reads the
queryset in keyset-paged chunks (steady memory and speed over millions of rows on any database) and
yields lists of text; a column with a mask shows the masked value unless the caller's `reveal(obj,
column name, value)` says yes (the rule who may see what is the caller's). `csv_stream` writes UTF-8
with a BOM (Excel opens it) as the rows come; `xlsx_file` writes with xlsxwriter in constant-memory mode
into a private temporary file and gives an open handle (the file is already unlinked). Every cell that a
spreadsheet would run as a formula is prefixed with an apostrophe (CSV injection).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse

from gridgov.core.tabular.spec import FORMULA_START

CHUNK = 2000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe(value) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_START else text


def iso(value) -> str:
    return value.isoformat() if value else ""


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value: Callable[[Any], Any]  # object → cell value
    mask: Callable[[str], str] | None = None  # shown unless reveal() allows the plain value
    name: str = ""  # the field's name, passed to reveal() and counted when shown unmasked


@dataclass
class Counter:
    """What an export wrote: rows, the names of the columns shown unmasked, the first ids (for a log)."""

    rows: int = 0
    revealed: set[str] = field(default_factory=set)
    ids: list[int] = field(default_factory=list)
    max_ids: int = 1000


def chunks(qs: QuerySet, size: int = CHUNK) -> Iterator[list]:
    """Keyset pagination by id: steady memory and speed over millions of rows, on any database."""
    last = 0
    qs = qs.order_by("pk")
    while True:
        chunk = list(qs.filter(pk__gt=last)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


@dataclass(frozen=True)
class ExportSpec:
    name: str
    columns: tuple[ExportColumn, ...]
    select_related: tuple[str, ...] = ()

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def rows(
        self, qs: QuerySet, *, reveal: Callable[[Any, str, Any], bool] | None = None,
        counter: Counter | None = None, on_chunk: Callable[[list], None] | None = None,
    ) -> Iterator[list[str]]:  # fmt: skip
        """The rows of `qs` as lists of text; `on_chunk` sees each chunk of objects before its rows."""
        counter = counter if counter is not None else Counter()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        for chunk in chunks(qs):
            if on_chunk is not None:
                on_chunk(chunk)
            for obj in chunk:
                row = []
                for c in self.columns:
                    value = c.value(obj)
                    if c.mask is not None:
                        if reveal is not None and reveal(obj, c.name, value):
                            counter.revealed.add(c.name)
                        else:
                            value = c.mask(value)
                    row.append("" if value is None else value if value.__class__ is str else str(value))
                counter.rows += 1
                if len(counter.ids) < counter.max_ids:
                    counter.ids.append(obj.pk)
                yield row


def csv_stream(header: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM, in pieces of 500 rows, every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for i, row in enumerate(rows):
        writer.writerow([safe(v) for v in row])
        if i % 500 == 499:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(header: list[str], rows: Iterable[list], *, sheet: str, work_dir: Path | None = None):
    """The rows as an .xlsx in a temporary file (constant memory), returned as an open binary handle; the
    file is unlinked already (the handle keeps the data until it is closed)."""
    import xlsxwriter

    fd, tmp = tempfile.mkstemp(prefix="gridgov-export-", suffix=".xlsx", dir=work_dir)
    os.close(fd)
    try:
        wb = xlsxwriter.Workbook(tmp, {"constant_memory": True, "strings_to_formulas": False})
        ws = wb.add_worksheet(sheet)
        bold = wb.add_format({"bold": True})
        ws.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row):
                ws.write_string(r, c, value or "")
        wb.close()
        return open(tmp, "rb")  # noqa: SIM115 - the caller (a FileResponse) closes it
    finally:
        os.unlink(tmp)


def response(name: str, header: list[str], rows: Iterable[list], *, file_format: str, sheet: str = "",
             work_dir: Path | None = None, before_send: Callable[[], None] | None = None):  # fmt: skip
    """A download of the rows: .csv streamed while it is read, .xlsx written first. `before_send` runs
    once the .xlsx is complete (the counter is final then) or before the .csv starts."""
    if file_format == "csv":
        if before_send is not None:
            before_send()
        out = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    else:
        handle = xlsx_file(header, rows, sheet=sheet or name.rsplit(".", 1)[0], work_dir=work_dir)
        if before_send is not None:
            before_send()
        out = FileResponse(handle, content_type=XLSX_TYPE)
    out["Content-Disposition"] = f'attachment; filename="{name}"'
    out["Cache-Control"] = "no-store"
    out["X-Content-Type-Options"] = "nosniff"
    return out
