"""Streamed export of a queryset as .csv or .xlsx, with a mask per column.

An app declares an `ExportSpec`: its columns (header, how to get the value from an object, and an
optional `mask` for personal data) and what to select with the rows. `ExportSpec.rows` reads the
queryset in keyset-paged chunks (steady memory and speed over millions of rows on any database) and
yields lists of text; a column with a mask shows the masked value unless the caller's `reveal(obj,
column name, value)` says yes (the rule who may see what is the caller's). `csv_stream` writes UTF-8
with a BOM (Excel opens it) as the rows come; `xlsx_file` writes with xlsxwriter in constant-memory mode
into a private temporary file and gives an open handle (the file is already unlinked).

Formula injection: every spreadsheet GridGov writes goes through this module. In a .csv a cell starting
with = + - @ or a tab or carriage return gets an apostrophe in front (`safe`, `write_csv`); in an .xlsx
(`SafeBook`) every text is a text cell, never a formula, and such a cell is marked "quote prefix" (Excel's
own mark for text that looks like a formula, kept when the cell is edited).
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse

from gridgov.core.keyset import BY_ID, Key, chunks
from gridgov.core.tabular.spec import FORMULA_START

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What a spreadsheet may read as the start of a formula (OWASP CSV injection): = + - @, tab, carriage return.
FORMULA_TRIGGERS = (*FORMULA_START, "\t", "\r")


def safe(value) -> str:
    """Text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_TRIGGERS else text


def write_csv(fh, header: list[str] | None, rows: Iterable[list]) -> None:
    """Rows to an open text file as CSV, every cell made safe (the caller chooses encoding and BOM)."""
    writer = csv.writer(fh)
    if header is not None:
        writer.writerow([safe(v) for v in header])
    for row in rows:
        writer.writerow([safe(v) for v in row])


class SafeSheet:
    """A worksheet whose `write` never makes a formula: numbers stay numbers, everything else is a text
    cell, quote-prefixed when it starts like a formula. Other worksheet methods pass through."""

    def __init__(self, book: SafeBook, ws):
        self._book = book
        self._ws = ws

    def write(self, row: int, col: int, value, fmt=None) -> None:
        if value is None or value == "":
            if fmt is not None:
                self._ws.write_blank(row, col, None, fmt)
            return
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            self._ws.write_number(row, col, value, fmt)
            return
        text = value if isinstance(value, str) else str(value)
        if text[:1] in FORMULA_TRIGGERS:
            fmt = self._book.quoted(fmt)
        self._ws.write_string(row, col, text, fmt)

    def write_row(self, row: int, col: int, values, fmt=None) -> None:
        for i, value in enumerate(values):
            self.write(row, col + i, value, fmt)

    def __getattr__(self, name):
        if name.startswith("write") and name not in ("write_comment",):
            raise AttributeError(f"SafeSheet writes cells only through write()/write_row(), not {name}")
        return getattr(self._ws, name)


class SafeBook:
    """An xlsxwriter workbook that writes no formula from data (strings_to_formulas/urls/numbers off) and
    whose sheets are `SafeSheet`s. `target` is a path or a binary file; `constant_memory` for big files."""

    def __init__(self, target, *, constant_memory: bool = False):
        import xlsxwriter

        options: dict[str, Any] = {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        }
        if constant_memory and isinstance(target, str | Path):
            options["constant_memory"] = True
        else:
            options["in_memory"] = True
        self.book = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target, options)
        self._props: dict[int, dict] = {}
        self._quoted: dict[int | None, Any] = {}

    def add_format(self, props: dict | None = None):
        fmt = self.book.add_format(props or {})
        self._props[id(fmt)] = dict(props or {})
        return fmt

    def quoted(self, fmt=None):
        """`fmt` with the quote prefix (text that a spreadsheet shows as typed, never as a formula)."""
        key = None if fmt is None else id(fmt)
        if key not in self._quoted:
            props = {} if fmt is None else self._props.get(id(fmt), {})
            self._quoted[key] = self.book.add_format({**props, "quote_prefix": True})
        return self._quoted[key]

    def add_worksheet(self, name: str | None = None) -> SafeSheet:
        return SafeSheet(self, self.book.add_worksheet(name))

    def close(self) -> None:
        self.book.close()


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
        keys: tuple[Key, ...] = BY_ID,
    ) -> Iterator[list[str]]:  # fmt: skip
        """The rows of `qs` as lists of text, in the order of `keys` (by id unless told);
        `on_chunk` sees each chunk of objects before its rows."""
        counter = counter if counter is not None else Counter()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        for chunk in chunks(qs, keys=keys):
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
    buffer.write("\ufeff")
    write_csv(buffer, header, [])
    for i, row in enumerate(rows):
        write_csv(buffer, None, [row])
        if i % 500 == 499:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(header: list[str], rows: Iterable[list], *, sheet: str, work_dir: Path | None = None):
    """The rows as an .xlsx in a temporary file (constant memory), returned as an open binary handle; the
    file is unlinked already (the handle keeps the data until it is closed)."""
    fd, tmp = tempfile.mkstemp(prefix="gridgov-export-", suffix=".xlsx", dir=work_dir)
    os.close(fd)
    try:
        wb = SafeBook(tmp, constant_memory=True)
        ws = wb.add_worksheet(sheet)
        bold = wb.add_format({"bold": True})
        ws.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row):
                ws.write(r, c, "" if value is None else str(value))
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


def download(data: bytes, name: str, file_format: str) -> HttpResponse:
    """A finished file (a template, an error workbook) as a download: .csv as UTF-8 text, else .xlsx."""
    content_type = "text/csv; charset=utf-8" if file_format == "csv" else XLSX_TYPE
    out = HttpResponse(data, content_type=content_type)
    out["Content-Disposition"] = f'attachment; filename="{name}"'
    return out
