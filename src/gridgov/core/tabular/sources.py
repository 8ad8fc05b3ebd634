"""Reading uploaded sheets: `.xlsx`/`.xls` through python-calamine, `.csv` in UTF-8 (with or without BOM)
or GBK/GB18030. A `Sheet` gives the header and an iterator of (row number, cells); faults of the whole
file (empty, unreadable, merged cells) raise `FileFault` with a msgid and its parameters."""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gridgov.core.tabular.validators import gettext_noop

csv.field_size_limit(64 * 1024 * 1024)  # a huge cell is reported as too long, not as a parser crash

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class FileFault(Exception):
    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params


E_EMPTY = gettext_noop("The file is empty")
E_NO_ROWS = gettext_noop("The file has a header but no data rows")
E_FORMAT = gettext_noop("Upload an .xlsx, .xls or .csv file")
E_ENCODING = gettext_noop("The file is neither UTF-8 nor GBK text; save it as CSV UTF-8 or as .xlsx")
E_UNREADABLE = gettext_noop("The workbook cannot be read: %(reason)s")
E_MERGED = gettext_noop(
    "The sheet has merged cells (%(ranges)s); unmerge them and fill in every cell, then upload again"
)


def sniff_format(head: bytes, file_name: str) -> str:
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith(XLS_MAGIC):
        return "xls"
    name = file_name.lower()
    if name.endswith((".xlsx", ".xls", ".xlsm")):
        raise FileFault(E_UNREADABLE, reason="not a workbook")
    return "csv"


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig (BOM), utf-8, or gb18030 (a superset of GBK and GB2312)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut at the end of the sample is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise FileFault(E_ENCODING) from exc


def column_letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _letters_to_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass
class Sheet:
    format: str
    encoding: str
    header: list[str]
    total: int  # data rows (an estimate for CSV until the end)
    rows: Iterator[tuple[int, list]]  # (row number in the sheet, header = 1; cells)
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row number, column index)
    _close: object = None

    def close(self) -> None:
        if callable(self._close):
            self._close()


def open_sheet(path: Path, file_name: str = "") -> Sheet:
    size = path.stat().st_size
    if size == 0:
        raise FileFault(E_EMPTY)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    kind = sniff_format(head, file_name)
    if kind in ("xlsx", "xls"):
        return _open_workbook(path, kind)
    return _open_csv(path, head)


def _clean_header(cells: list) -> list[str]:
    return [("" if c is None else str(c)).strip().lstrip("\ufeff").strip("*").strip() for c in cells]


def _open_csv(path: Path, head: bytes) -> Sheet:
    encoding = detect_encoding(head)
    with open(path, "rb") as f:
        newlines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 22), b""))
    stream = open(path, encoding=encoding, newline="", errors="strict")  # noqa: SIM115
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        stream.close()
        raise FileFault(E_ENCODING) from exc
    if header is None or not any(c.strip() for c in header):
        stream.close()
        raise FileFault(E_EMPTY)

    def rows() -> Iterator[tuple[int, list]]:
        number = 1
        try:
            for row in reader:
                number += 1
                yield number, row
        except UnicodeDecodeError as exc:
            raise FileFault(E_ENCODING) from exc
        except csv.Error as exc:
            raise FileFault(E_UNREADABLE, reason=str(exc)) from exc

    return Sheet("csv", encoding, _clean_header(header), max(0, newlines - 1), rows(), _close=stream.close)


_FORMULA_RE = re.compile(rb'<c r="([A-Z]{1,3})([0-9]+)"[^>]*?>(?:<f[ >/])')


def _xlsx_formulas(path: Path) -> set[tuple[int, int]]:
    """Cells of the first sheet that hold a formula (python-calamine gives only their cached values)."""
    found: set[tuple[int, int]] = set()
    try:
        with zipfile.ZipFile(path) as z:
            names = sorted(n for n in z.namelist() if re.match(r"xl/worksheets/sheet\d+\.xml$", n))
            if not names:
                return found
            first = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else names[0]
            with z.open(first) as f:
                tail = b""
                while chunk := f.read(1 << 22):
                    data = tail + chunk
                    if b"<f" not in data:  # most sheets have no formula: skip the slower match per cell
                        tail = data[-512:]
                        continue
                    for m in _FORMULA_RE.finditer(data):
                        found.add((int(m[2]), _letters_to_index(m[1].decode())))
                    tail = data[-512:]
    except (zipfile.BadZipFile, OSError, KeyError):
        return found
    return found


def _open_workbook(path: Path, kind: str) -> Sheet:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as exc:  # calamine raises its own error types for broken files
        raise FileFault(E_UNREADABLE, reason=type(exc).__name__) from exc
    merged = list(getattr(sheet, "merged_cell_ranges", None) or [])
    if merged:
        ranges = [f"{column_letter(a[1])}{a[0] + 1}:{column_letter(b[1])}{b[0] + 1}" for a, b in merged[:5]]
        raise FileFault(E_MERGED, ranges=", ".join(ranges) + (" …" if len(merged) > 5 else ""))
    iterator = iter(sheet.iter_rows())
    number = 0
    header = None
    for row in iterator:  # rows above the first filled cell come out empty: skip them
        number += 1
        if any(str(c).strip() for c in row):
            header = row
            break
    if header is None:
        raise FileFault(E_EMPTY)
    header_number = number
    start = getattr(sheet, "start", None)
    start_row, start_col = start if start else (0, 0)
    total = max(0, start_row + sheet.height - header_number)

    def rows() -> Iterator[tuple[int, list]]:
        n = header_number
        for row in iterator:
            n += 1
            yield n, row

    formulas: set[tuple[int, int]] = set()
    if kind == "xlsx":
        formulas = {(r, c - start_col) for r, c in _xlsx_formulas(path)}
    return Sheet(kind, "", _clean_header(list(header)), total, rows(), formulas)
