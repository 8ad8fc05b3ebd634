"""The bulk writer: rows straight into a table, PostgreSQL `COPY` (text format) or SQLite `executemany`,
skipping the ORM's per-object work. Primary keys can be taken first (`allocate_ids`) so rows of two
tables may point at each other before either is written; `existing` is the duplicate check against the
table in one query per batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model, n: int) -> list[int]:
    """n fresh primary keys, so rows can point at each other before they are written."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as c:
        if is_postgres():
            c.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
            )
            return [r[0] for r in c.fetchall()]
        c.execute(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')  # noqa: S608 - a model's own table
        top = c.fetchone()[0]
        c.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = c.fetchone()
        start = max(top, row[0] if row else 0) + 1
        return list(range(start, start + n))


def _copy_converters(model, columns: list[str]) -> list[Callable]:
    """Per column, a function from a Python value to COPY's text format (\\N for NULL)."""
    from django.core.exceptions import FieldDoesNotExist
    from django.db import models as m

    def text(v):
        if v is None:
            return "\\N"
        v = str(v)
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            v = v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return v

    def binary(v):
        return "\\N" if v is None else "\\\\x" + v.hex()

    def plain(v):
        return "\\N" if v is None else str(v)

    def boolean(v):
        return "\\N" if v is None else "t" if v else "f"

    def iso(v):
        return "\\N" if v is None else v if v.__class__ is str else v.isoformat()

    out = []
    for name in columns:
        try:  # a column is a field's name or attname ("house_id"); a plain field may end in "_id" too
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            field = model._meta.get_field(name.removesuffix("_id"))
        if isinstance(field, m.BinaryField):
            out.append(binary)
        elif isinstance(field, m.BooleanField):
            out.append(boolean)
        elif isinstance(field, m.DateField):  # DateTimeField too
            out.append(iso)
        elif isinstance(field, m.IntegerField | m.ForeignKey | m.AutoField):
            out.append(plain)
        else:
            out.append(text)
    return out


def copy_text(model, columns: list[str], rows: list[tuple]) -> str:
    """Rows in COPY's text format (built in Python, so the writer only streams bytes)."""
    converters = _copy_converters(model, columns)
    return "".join("\t".join([f(v) for f, v in zip(converters, r, strict=True)]) + "\n" for r in rows)


def write_rows(model, columns: list[str], rows: list[tuple] | None, *, text: str | None = None) -> None:
    """Bulk insert: COPY (text format) on PostgreSQL, executemany on SQLite. `text` is rows already in
    COPY's text format (PostgreSQL only)."""
    if not rows and not text:
        return
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)
    if is_postgres():
        raw = connection.connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            if text is not None:
                for start in range(0, len(text), 1 << 20):
                    copy.write(text[start : start + (1 << 20)])
            else:
                assert rows is not None  # no text, and the early return: rows is not empty
                for start in range(0, len(rows), 5000):
                    copy.write(copy_text(model, columns, rows[start : start + 5000]))
    else:
        if rows is None:
            raise TypeError("COPY text is for PostgreSQL only: write_rows on SQLite needs rows")
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as c:
            c.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows)  # noqa: S608


@dataclass
class Write:
    """Rows for one table: tuples in `columns` order, or (PostgreSQL) COPY text."""

    model: type
    columns: list[str]
    rows: list[tuple] | None
    text: str | None = None


@dataclass
class Prepared:
    """A batch ready to write: its writes, follow-up updates the spec applies, the count of records."""

    writes: list[Write]
    updates: list
    count: int


def db_now():
    """The current time as the bulk writer wants it (ISO text for COPY, Django's format for SQLite)."""
    now = timezone.now()
    return now.isoformat() if is_postgres() else connection.ops.adapt_datetimefield_value(now)


def existing(model, column: str, values: list) -> set:
    """The values of `column` already in the table (PostgreSQL: one `= ANY(array)` query)."""
    found: set = set()
    values = [v for v in set(values) if v]
    if not values:
        return found
    if is_postgres():
        table = model._meta.db_table
        with connection.cursor() as c:
            c.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" = ANY(%s)', [values])  # noqa: S608
            found.update(r[0] for r in c.fetchall())
        return found
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found.update(model.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True))
    return found
