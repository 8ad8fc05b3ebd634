"""Column specs and per-row validation of a sheet, in batches.

A `Column` names one column of an import template (its header, aliases, required, length, free text).
`map_header` matches a file's header to the columns (unknown, missing or repeated columns are a fault of
the whole file). A `Batch` holds up to a few thousand rows as columns of raw cells and of stripped text,
and collects the faults found (one per cell: the first wins). The checks here (`check_text`, `choice`,
`dates`, `to_int`) work on a whole column at once; an `ImportSpec` subclass declares its columns and
turns a batch into records (`validate`) and writes them (`insert`, or `prepare` + `apply` when the
runner may write in a second thread). Error messages are English msgids with parameters, translated
when shown (`render`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.tabular.sources import FileFault
from gridgov.core.tabular.validators import cell_text, gettext_noop, parse_date

# --- messages ----------------------------------------------------------------------------------------
E_MISSING_COLUMNS = gettext_noop("Required columns are missing: %(columns)s. The template has: %(expected)s")
E_UNKNOWN_COLUMNS = gettext_noop("Unknown columns: %(columns)s. The template has: %(expected)s")
E_DUPLICATE_COLUMNS = gettext_noop("A column appears twice: %(columns)s")
E_REQUIRED = gettext_noop("This cell is required")
E_TOO_LONG = gettext_noop("Too long: %(length)s characters, at most %(max)s")
E_FORMULA = gettext_noop("The cell holds a formula; paste the values only")
E_CONTROL = gettext_noop("The text holds control characters")
E_CHOICE = gettext_noop("Choose one of: %(choices)s")
E_DATE = gettext_noop("Enter a date as YYYY-MM-DD")
E_FUTURE = gettext_noop("The date lies in the future")
E_DUP_FILE = gettext_noop("Duplicate: the same value is in row %(row)s")
E_DUP_DB = gettext_noop("Already registered in the system")
E_NUMBER = gettext_noop("Enter a whole number between %(min)s and %(max)s")

FORMULA_START = ("=", "+", "-", "@")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def render(message: str, params: dict | None) -> str:
    """A stored msgid with its parameters, in the current language (string parameters translated too)."""
    text = _(message)
    if params:
        try:
            return text % {k: _(v) if isinstance(v, str) and v else v for k, v in params.items()}
        except (KeyError, TypeError, ValueError):
            return text
    return text


def jsonable(params: dict) -> dict:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in params.items()}


# --- columns -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the template's header
    aliases: tuple[str, ...] = ()
    required: bool = False  # the cell must be filled
    max_len: int = 100
    text: bool = False  # free text: formulas and control characters refused
    example: str = ""
    note: str = ""  # explanation in the template (Chinese: the template is for the field)
    choices: tuple[str, ...] = ()  # offered as a drop-down list in the .xlsx template


def _norm_header(text: str) -> str:
    return re.sub(r"[\s_*（）()]", "", text).lower()


def map_header(columns: tuple[Column, ...], required: tuple[str, ...], header: list[str]) -> dict[str, int]:
    """Column key → index in the sheet. Unknown, missing or repeated columns are a fault of the file."""
    lookup: dict[str, str] = {}
    for c in columns:
        for name in (c.header, c.key, *c.aliases):
            lookup[_norm_header(name)] = c.key
    found: dict[str, int] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for i, name in enumerate(header):
        if not name:
            continue
        key = lookup.get(_norm_header(name))
        if key is None:
            unknown.append(name[:40])
        elif key in found:
            repeated.append(name[:40])
        else:
            found[key] = i
    expected = "、".join(c.header for c in columns)
    missing = [c.header for c in columns if c.key in required and c.key not in found]
    if missing:
        raise FileFault(E_MISSING_COLUMNS, columns="、".join(missing), expected=expected)
    if unknown:
        raise FileFault(E_UNKNOWN_COLUMNS, columns="、".join(unknown[:10]), expected=expected)
    if repeated:
        raise FileFault(E_DUPLICATE_COLUMNS, columns="、".join(repeated))
    return found


# --- cells: cell_text (in validators, beside the normalisers that use it) ------------------------------
@dataclass
class Batch:
    """The rows of one batch as columns, and the faults found so far (one per cell, the first wins)."""

    numbers: list[int]
    raw: dict[str, list]
    text: dict[str, list[str]] = field(default_factory=dict)
    errors: list[tuple[int, str, str, dict]] = field(default_factory=list)
    bad: list[bool] = field(default_factory=list)
    blank: list[bool] = field(default_factory=list)
    _cell_bad: set[tuple[int, str]] = field(default_factory=set)

    def fail(self, i: int, key: str, message: str, **params) -> None:
        if (i, key) in self._cell_bad:
            return
        self._cell_bad.add((i, key))
        self.errors.append((self.numbers[i], key, message, params))
        self.bad[i] = True

    def ok(self, i: int, key: str) -> bool:
        return (i, key) not in self._cell_bad

    def column(self, key: str) -> list[str]:
        """The stripped text of a column; blanks when the file lacks it."""
        values = self.text.get(key)
        return values if values is not None else [""] * len(self.numbers)


def make_batch(rows: list[tuple[int, list]], mapping: dict[str, int], formulas=None) -> Batch:
    """A batch of (row number, cells) rows; cells that held a formula fail at once."""
    numbers = [n for n, _ in rows]
    raw: dict[str, list] = {}
    for key, idx in mapping.items():
        raw[key] = [r[idx] if idx < len(r) else "" for _, r in rows]
    batch = Batch(numbers, raw, bad=[False] * len(rows))
    for key, values in raw.items():
        batch.text[key] = [v.strip() if v.__class__ is str else cell_text(v) for v in values]
    keys = list(batch.text)
    batch.blank = [not any(batch.text[k][i] for k in keys) for i in range(len(rows))]
    if formulas:
        for i, n in enumerate(numbers):
            for key, idx in mapping.items():
                if (n, idx) in formulas:
                    batch.fail(i, key, E_FORMULA)
    return batch


# --- column checks -------------------------------------------------------------------------------------
def check_text(batch: Batch, columns: tuple[Column, ...]) -> None:
    """Required cells, lengths, and formulas or control characters in free text."""
    for c in columns:
        values = batch.text.get(c.key)
        if values is None:
            continue
        for i, v in enumerate(values):
            if batch.blank[i]:
                continue
            if not v:
                if c.required:
                    batch.fail(i, c.key, E_REQUIRED)
            elif len(v) > c.max_len:
                batch.fail(i, c.key, E_TOO_LONG, length=len(v), max=c.max_len)
            elif c.text and (v[0] in FORMULA_START or _CONTROL_RE.search(v)):
                batch.fail(i, c.key, E_FORMULA if v[0] in FORMULA_START else E_CONTROL)


def choice(batch: Batch, key: str, mapping: dict[str, str], choices: str, default: str = "") -> list[str]:
    """Each cell mapped through `mapping` (exact, then lower case); an unknown value fails."""
    out: list[str] = []
    for i, v in enumerate(batch.text.get(key) or [""] * len(batch.numbers)):
        if not v:
            out.append(default)
            continue
        found = mapping.get(v) or mapping.get(v.lower())
        if found is None and not batch.blank[i]:
            batch.fail(i, key, E_CHOICE, choices=choices)
        out.append(found or "")
    return out


def dates(batch: Batch, key: str, today: dt.date | None) -> list[dt.date | None]:
    """Each cell as a date (None when empty); a date after `today` fails (no limit when None)."""
    out: list[dt.date | None] = []
    fromiso = dt.date.fromisoformat
    values = batch.raw.get(key)
    if values is None:
        return [None] * len(batch.numbers)
    for i, v in enumerate(values):
        d = None
        if v.__class__ is str and len(v) == 10:
            try:
                d = fromiso(v)
            except ValueError:
                d = None
        if d is None and v not in ("", None) and batch.ok(i, key):
            try:
                d = parse_date(v)
            except (ValueError, TypeError, OverflowError):
                batch.fail(i, key, E_DATE)
        if d is not None and today is not None and d > today:
            batch.fail(i, key, E_FUTURE)
        out.append(d)
    return out


def to_int(text: str) -> int | None:
    """A whole number from a cell's text ("12", "12.0"), else None."""
    try:
        return int(float(text)) if text.replace(".", "", 1).lstrip("-").isdigit() else None
    except ValueError:
        return None


# --- the spec ----------------------------------------------------------------------------------------
class ImportSpec:
    """What an app declares for one kind of import: its columns, which of them the header must have,
    and how a batch becomes records (`validate`) and rows in the database (`insert`).

    One instance serves one run over a file: `seen` keeps the duplicate keys of the rows so far, and
    `remember` rebuilds them from the rows committed before a resume. Set `pipelined = True` and
    implement `prepare` (in the reading thread) and `apply` (in the writing thread, inside the batch's
    transaction) to let the runner write batch k while it validates batch k + 1 (PostgreSQL)."""

    columns: tuple[Column, ...] = ()
    required: tuple[str, ...] = ()  # keys the header must name
    pipelined = False

    def __init__(
        self,
        *,
        job_id: int | None = None,
        user_id: int | None = None,
        context=None,
        today: dt.date | None = None,
    ):
        self.job_id = job_id
        self.user_id = user_id
        self.context = context  # what the runner shares between the passes of one run
        self.today = today or timezone.localdate()
        self.seen: dict[str, int] = {}

    @classmethod
    def map_header(cls, header: list[str]) -> dict[str, int]:
        """Column key → index in the sheet; raises FileFault for a header that does not fit."""
        return map_header(cls.columns, cls.required, header)

    def remember(self, batch: Batch) -> None:
        """Register the duplicate keys of rows done before a resume."""

    def validate(self, batch: Batch) -> list:
        raise NotImplementedError

    def insert(self, records: list) -> int:
        raise NotImplementedError

    def prepare(self, records: list):
        raise NotImplementedError

    def apply(self, prepared) -> int:
        raise NotImplementedError

    def undo(self) -> None:
        """Take back what the job imported (all-or-nothing, after a late conflict)."""

    def dedup(self, batch: Batch, i: int, key: str, value: str) -> bool:
        """False (and the cell fails) when an earlier row of the file had the same value."""
        first = self.seen.get(value)
        if first is not None and first != batch.numbers[i]:
            batch.fail(i, key, E_DUP_FILE, row=first)
            return False
        self.seen[value] = batch.numbers[i]
        return True


def import_sheet(spec: ImportSpec, sheet, *, batch_rows: int = 2000) -> tuple[int, int, list]:
    """Run a spec over a whole sheet without a job (small files, commands, tests): each batch validated
    and its valid rows written in one transaction. Returns (data rows, rows written, errors as
    (row, column key, msgid, params))."""
    from django.db import transaction

    mapping = spec.map_header(sheet.header)
    done = inserted = 0
    errors: list = []
    pending: list[tuple[int, list]] = []

    def flush() -> None:
        nonlocal inserted
        batch = make_batch(pending, mapping, sheet.formulas)
        with transaction.atomic():
            records = spec.validate(batch)
            inserted += spec.insert(records) if records else 0
        errors.extend(batch.errors)

    for number, cells in sheet.rows:
        done += 1
        pending.append((number, cells))
        if len(pending) >= batch_rows:
            flush()
            pending = []
    if pending:
        flush()
    return done, inserted, errors
