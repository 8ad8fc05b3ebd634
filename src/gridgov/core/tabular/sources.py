"""Reading uploaded sheets: `.xlsx`/`.xls` through python-calamine, `.csv` in UTF-8 (with or without BOM)
or GBK/GB18030. A `Sheet` gives the header and an iterator of (row number, cells); faults of the whole
file (empty, unreadable, merged cells, absurd dimensions, a zip bomb) raise `FileFault` with a msgid and
its parameters.

An uploaded file is hostile until read: `open_sheet` looks at a workbook's zip directory (members, their
uncompressed sizes and ratios) and at the cell references of its sheets (the extent the reader would
allocate densely) BEFORE python-calamine allocates anything, and refuses absurd ones. `open_sheet_isolated`
(what import jobs use) does the reading in a child process under memory, CPU and wall-clock limits, with
no database, no keys and no right to write files, and streams the rows back; a child that dies raises
`ReaderCrashed` in the caller, which lives on.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
import pickle
import re
import socket
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path


def gettext_noop(message: str) -> str:
    """Marks a msgid for extraction; translated where shown. (Local: the reader child imports no
    Django and no NumPy.)"""
    return message


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
E_TOO_MANY_CELLS = gettext_noop(
    "The sheet spans %(rows)s rows × %(columns)s columns (%(cells)s cells), more than the %(limit)s cells "
    "that can be read; delete the empty rows and columns far from the data, or split the file"
)
E_ZIP_BOMB = gettext_noop(
    "The workbook unpacks to %(ratio)s times its size (%(name)s); it is refused as unsafe"
)
E_ZIP_TOO_LARGE = gettext_noop(
    "The workbook unpacks to %(mb)s MB, more than the %(limit)s MB that can be read; split the file"
)
E_ZIP_MEMBERS = gettext_noop("The workbook has %(count)s parts, more than the %(limit)s that can be read")


@dataclass(frozen=True)
class Limits:
    """What reading one upload may cost. The dense cell range is what python-calamine allocates (about
    32 bytes a cell), so `max_cells` and `memory_mb` go together."""

    max_cells: int = 10_000_000
    max_unzipped_mb: int = 512  # all members of an .xlsx together
    max_ratio: int = 100  # uncompressed / compressed, for a member above `ratio_floor_mb`
    ratio_floor_mb: int = 8
    max_members: int = 2_000
    memory_mb: int = 1536  # RLIMIT_AS of the reader child
    cpu_seconds: int = 300  # RLIMIT_CPU of the reader child
    wall_seconds: int = 600  # time waited on the child in all (not counting the caller's own work)


def limits() -> Limits:
    """The limits from the settings or the environment (GRIDGOV_IMPORT_MAX_CELLS, …_MEMORY_MB, …), else
    the defaults. The child is handed the caller's limits; it reads neither."""
    settings = None
    try:
        from django.conf import settings as django_settings

        if django_settings.configured:
            settings = django_settings
    except ImportError:  # pragma: no cover
        pass
    values = {}
    for name, value in asdict(Limits()).items():
        key = f"GRIDGOV_IMPORT_{name.upper()}"
        values[name] = int(getattr(settings, key, None) or os.environ.get(key) or value)
    return Limits(**values)


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


def open_sheet(path: Path, file_name: str = "", *, limit: Limits | None = None) -> Sheet:
    """Read in this process (the checks before allocating included). Import jobs use
    `open_sheet_isolated`, which runs this in a limited child process."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise FileFault(E_EMPTY)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    kind = sniff_format(head, file_name)
    if kind in ("xlsx", "xls"):
        formulas: set[tuple[int, int]] = set()
        if kind == "xlsx":
            formulas = inspect_xlsx(path, limit or limits())
        else:
            inspect_xls(path, limit or limits())
        return _open_workbook(path, kind, formulas)
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
# a cell's or a row's reference, whatever the attribute order or namespace prefix
_REF_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(c|row)\s[^>]*?\br=\"([A-Za-z]{0,3})([0-9]{1,9})\"")
_SHEET_RE = re.compile(r"xl/worksheets/[^/]+\.xml$")


def inspect_xlsx(path: Path, limit: Limits) -> set[tuple[int, int]]:
    """Before any allocation: refuse a zip bomb (too many members, too large unpacked, an absurd
    ratio) and a sheet whose cells span more than `limit.max_cells` (python-calamine allocates the
    range from the first to the last cell densely: one cell at XFD1048576 is 17 billion cells).
    Returns the formula cells of the first sheet (python-calamine gives only their cached values)."""
    formulas: set[tuple[int, int]] = set()
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileFault(E_UNREADABLE, reason="not a zip archive") from exc
    with z:
        infos = z.infolist()
        if len(infos) > limit.max_members:
            raise FileFault(E_ZIP_MEMBERS, count=len(infos), limit=limit.max_members)
        total = sum(i.file_size for i in infos)
        if total > limit.max_unzipped_mb * 2**20:
            raise FileFault(E_ZIP_TOO_LARGE, mb=total // 2**20, limit=limit.max_unzipped_mb)
        for i in infos:
            if i.file_size > limit.ratio_floor_mb * 2**20 and i.file_size > limit.max_ratio * max(
                i.compress_size, 1
            ):
                raise FileFault(
                    E_ZIP_BOMB, ratio=i.file_size // max(i.compress_size, 1), name=i.filename[-60:]
                )
        sheets = sorted(i.filename for i in infos if _SHEET_RE.match(i.filename))
        first = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in sheets else (sheets or [""])[0]
        for name in sheets:
            rows, columns = _extent(z, name, formulas if name == first else None, limit)
            if rows * columns > limit.max_cells:
                raise FileFault(
                    E_TOO_MANY_CELLS, rows=rows, columns=columns, cells=rows * columns, limit=limit.max_cells
                )
    return formulas


def _extent(z: zipfile.ZipFile, name: str, formulas: set | None, limit: Limits) -> tuple[int, int]:
    """(rows, columns) from the first to the last referenced row and column of one sheet, read as a
    stream (never more bytes than the member declares)."""
    box = [1 << 62, -1, 1 << 62, -1]  # low row, high row, low column, high column

    def scan(data: bytes, stop: int) -> None:
        for m in _REF_RE.finditer(data):
            if m.start() >= stop:
                break  # may be cut off: seen again at the start of the next window
            number = int(m[3])
            box[0], box[1] = min(box[0], number), max(box[1], number)
            if m[1] == b"c" and m[2]:
                col = _letters_to_index(m[2].decode().upper())
                box[2], box[3] = min(box[2], col), max(box[3], col)
        if formulas is not None and b"<f" in data:
            for m in _FORMULA_RE.finditer(data):
                if m.start() >= stop:
                    break
                formulas.add((int(m[2]), _letters_to_index(m[1].decode())))

    budget = limit.max_unzipped_mb * 2**20
    with z.open(name) as f:
        tail = b""
        while chunk := f.read(1 << 22):
            budget -= len(chunk)
            if budget < 0:
                raise FileFault(E_ZIP_TOO_LARGE, mb=limit.max_unzipped_mb, limit=limit.max_unzipped_mb)
            data = tail + chunk
            cut = max(0, len(data) - 512)
            scan(data, cut)
            tail = data[cut:]
        scan(tail, len(tail))
    if box[1] < 0:
        return 0, 0
    columns = (box[3] - box[2] + 1) if box[3] >= 0 else 1
    return box[1] - box[0] + 1, columns


# BIFF records that carry a cell's row and column in their first four bytes (BIFF8, what Excel 97-2003
# and python-calamine's .xls reader use), the two that carry a run of columns, and the sheet's dimensions
_BIFF_BOF, _BIFF_EOF, _BIFF_DIMENSIONS = 0x0809, 0x000A, 0x0200
_BIFF_CELLS = frozenset({0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_BIFF_RUNS = frozenset({0x00BD, 0x00BE})  # MULRK, MULBLANK: row, first column, …, last column
_BIFF_WORKSHEET = 0x0010


def inspect_xls(path: Path, limit: Limits) -> None:
    """Before any allocation, the same check as `inspect_xlsx` for an .xls (BIFF inside an OLE2
    compound file): python-calamine allocates each sheet from its first to its last cell densely, so a
    2-cell file with A1 and IV65536 costs 16.7 million cells. Walks the record stream of every
    worksheet: the cells' rows and columns and the DIMENSIONS record, whichever reaches further."""
    import olefile

    try:
        ole = olefile.OleFileIO(str(path))
    except (OSError, ValueError) as exc:
        raise FileFault(E_UNREADABLE, reason="not an OLE2 compound file") from exc
    with ole:
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            raise FileFault(E_UNREADABLE, reason="no workbook stream")
        size = ole.get_size(name)
        if size > limit.max_unzipped_mb * 2**20:
            raise FileFault(E_ZIP_TOO_LARGE, mb=size // 2**20, limit=limit.max_unzipped_mb)
        data = ole.openstream(name).read()
    box: list[int] | None = None  # low row, high row, low column, high column of the sheet being read
    pos, end = 0, len(data)
    while pos + 4 <= end:
        kind, length = struct.unpack_from("<HH", data, pos)
        body = data[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind == _BIFF_BOF:
            sheet_type = struct.unpack_from("<H", body, 2)[0] if len(body) >= 4 else 0
            box = [1 << 62, -1, 1 << 62, -1] if sheet_type == _BIFF_WORKSHEET else None
        elif box is None:
            continue
        elif kind == _BIFF_EOF:
            _check_extent(box, limit)
            box = None
        elif kind in _BIFF_CELLS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body, 0)
            _widen(box, row, row, col, col)
        elif kind in _BIFF_RUNS and len(body) >= 6:
            row, first = struct.unpack_from("<HH", body, 0)
            last = struct.unpack_from("<H", body, len(body) - 2)[0]
            _widen(box, row, row, first, max(first, last))
        elif kind == _BIFF_DIMENSIONS and len(body) >= 12:
            first_row, next_row, first_col, next_col = struct.unpack_from("<IIHH", body, 0)
            if next_row > first_row and next_col > first_col:
                _widen(box, first_row, next_row - 1, first_col, next_col - 1)
    if box is not None:  # a stream cut off before the sheet's end
        _check_extent(box, limit)


def _widen(box: list[int], low_row: int, high_row: int, low_col: int, high_col: int) -> None:
    box[0], box[1] = min(box[0], low_row), max(box[1], high_row)
    box[2], box[3] = min(box[2], low_col), max(box[3], high_col)


def _check_extent(box: list[int], limit: Limits) -> None:
    if box[1] < 0:
        return
    rows, columns = box[1] - box[0] + 1, box[3] - box[2] + 1
    if rows * columns > limit.max_cells:
        raise FileFault(
            E_TOO_MANY_CELLS, rows=rows, columns=columns, cells=rows * columns, limit=limit.max_cells
        )


def _open_workbook(path: Path, kind: str, formulas: set[tuple[int, int]]) -> Sheet:
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

    formulas = {(r, c - start_col) for r, c in formulas}
    return Sheet(kind, "", _clean_header(list(header)), total, rows(), formulas)


# --- the reader child --------------------------------------------------------------------------------
ROWS_PER_MESSAGE = 500


class ReaderCrashed(Exception):  # noqa: N818 - what the caller sees: the child died or overran
    """The reader child died (a signal, out of memory, an exit code) or went past its time."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _SafeUnpickler(pickle.Unpickler):
    """Rows come back as plain values: only the date and time types may be built by name."""

    ALLOWED = {("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a cell value")
        return getattr(dt, name)


def _loads(data: bytes):
    return _SafeUnpickler(io.BytesIO(data)).load()


def _child_env() -> dict[str, str]:
    """Nothing of the parent's environment (no database URL, no keys): only what Python needs to
    import gridgov and python-calamine."""
    import gridgov

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(Path(gridgov.__file__).resolve().parent.parent),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "RUST_BACKTRACE": "0",
    }
    return env


spawned = [0]  # reader children started by this process (tests count them)


def open_sheet_isolated(path: Path, file_name: str = "", *, limit: Limits | None = None) -> Sheet:
    """`open_sheet` in a child process limited in memory (RLIMIT_AS), CPU (RLIMIT_CPU) and wall-clock
    time, which may not write files (RLIMIT_FSIZE 0) nor dump core. The child reads the file from a
    descriptor it inherits and streams the header and the rows back over a socket; a fault of the
    file comes back as `FileFault`, a dead child as `ReaderCrashed`."""
    from multiprocessing.connection import Connection

    limit = limit or limits()
    ours, theirs = socket.socketpair()
    fd = os.open(path, os.O_RDONLY)
    try:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "gridgov.core.tabular.sources", str(theirs.fileno()), str(fd),
             json.dumps(asdict(limit)), file_name, str(os.getpid())],
            pass_fds=(theirs.fileno(), fd), env=_child_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
        )  # fmt: skip
        spawned[0] += 1
    finally:
        os.close(fd)
        theirs.close()
    conn = Connection(ours.detach())
    waited = [0.0]

    def stop() -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        conn.close()

    def receive():
        left = limit.wall_seconds - waited[0]
        started = time.monotonic()
        try:
            ready = left > 0 and conn.poll(left)
            waited[0] += time.monotonic() - started
            if not ready:
                stop()
                raise ReaderCrashed(f"no answer within {limit.wall_seconds} s")
            message = _loads(conn.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            stop()
            raise ReaderCrashed(f"the reader stopped (exit code {proc.returncode})") from exc
        if message[0] == "fault":
            stop()
            raise FileFault(message[1], **message[2])
        if message[0] == "crash":
            stop()
            raise ReaderCrashed(message[1])
        return message

    try:
        _, fmt, encoding, header, total, formulas = receive()
    except BaseException:
        stop()
        raise

    def rows() -> Iterator[tuple[int, list]]:
        try:
            while True:
                message = receive()
                if message[0] == "end":
                    return
                yield from message[1]
        finally:
            stop()

    return Sheet(fmt, encoding, header, total, rows(), set(formulas), _close=stop)


def _limit_self(limit: Limits, caller: int = 0) -> None:
    import resource

    def cap(what: int, soft: int, hard: int | None = None) -> None:
        try:
            resource.setrlimit(what, (soft, soft if hard is None else hard))
        except (ValueError, OSError):  # pragma: no cover - a platform without this limit
            pass

    if sys.platform == "linux":  # die with the caller (a killed worker leaves no reader behind)
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover
            pass
        if caller and os.getppid() != caller:
            os._exit(6)  # the caller died before the line above
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_FSIZE, 0)
    cap(resource.RLIMIT_CPU, limit.cpu_seconds, limit.cpu_seconds + 5)
    cap(resource.RLIMIT_AS, limit.memory_mb * 2**20)


def _child(argv: list[str]) -> int:
    """The reader child: `python -m gridgov.core.tabular.sources SOCKET FD LIMITS FILE_NAME CALLER_PID`."""
    from multiprocessing.connection import Connection

    limit = Limits(**json.loads(argv[3]))
    _limit_self(limit, int(argv[5]) if len(argv) > 5 else 0)
    conn = Connection(int(argv[1]))

    def send(message) -> None:
        conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        sheet = open_sheet(Path(f"/dev/fd/{int(argv[2])}"), argv[4], limit=limit)
        send(("sheet", sheet.format, sheet.encoding, sheet.header, sheet.total, sorted(sheet.formulas)))
        chunk: list[tuple[int, list]] = []
        for number, cells in sheet.rows:
            chunk.append((number, list(cells)))
            if len(chunk) >= ROWS_PER_MESSAGE:
                send(("rows", chunk))
                chunk = []
        if chunk:
            send(("rows", chunk))
        send(("end",))
    except FileFault as fault:
        send(("fault", fault.message, fault.params))
    except MemoryError:
        send(("crash", f"out of memory (limit {limit.memory_mb} MB)"))
        return 3
    except (BrokenPipeError, ConnectionError):
        return 4  # the caller stopped reading
    except Exception as exc:  # noqa: BLE001 - reported as a crash, never a traceback with cell values
        send(("crash", f"the reader failed ({type(exc).__name__})"))
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv))
