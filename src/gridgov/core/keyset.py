"""Keyset pagination: reading a queryset in chunks by the values of its order (`WHERE (key) > (last
row's key)`), never by OFFSET, so the speed and the memory per chunk stay the same over millions of rows,
on any database. The order is a tuple of `Key`s ending with a unique column (the id); nullable keys say
where their nulls go. The list an API pages with OFFSET and the export that reads the whole list use the
same keys (`order_by`), so both come in one order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet

CHUNK = 2000


@dataclass(frozen=True)
class Key:
    """One column of an order that keyset pagination can follow: ascending unless `descending`; a
    nullable column says where its empty values go (`nulls_last`). The last key must be unique (the id)."""

    field: str
    descending: bool = False
    nulls_last: bool = False

    def expression(self):
        f = F(self.field)
        if self.descending:
            return f.desc(nulls_last=True) if self.nulls_last else f.desc()
        return f.asc(nulls_last=True) if self.nulls_last else f.asc()


BY_ID = (Key("pk"),)


def order_by(qs: QuerySet, keys: tuple[Key, ...]) -> QuerySet:
    """`qs` in the order of `keys` (the same order `chunks` reads it in)."""
    return qs.order_by(*(k.expression() for k in keys))


def _after(keys: tuple[Key, ...], row) -> Q:
    """The rows that come after `row` in the order of `keys` (the keyset condition)."""
    key, rest = keys[0], keys[1:]
    value = getattr(row, key.field)
    later = "lt" if key.descending else "gt"
    if value is None:  # only nullable keys (nulls_last): after a null come only the nulls
        beyond = Q(pk__in=[])
        same = Q(**{f"{key.field}__isnull": True})
    else:
        beyond = Q(**{f"{key.field}__{later}": value})
        if key.nulls_last:
            beyond |= Q(**{f"{key.field}__isnull": True})
        same = Q(**{key.field: value})
    if not rest:
        return beyond
    return beyond | (same & _after(rest, row))


def chunks(qs: QuerySet, size: int | None = None, keys: tuple[Key, ...] = BY_ID) -> Iterator[list]:
    """Keyset pagination (by id unless `keys` name another order ending with a unique column), `size`
    rows a chunk (CHUNK unless told): steady memory and speed over millions of rows, on any database."""
    size = size or CHUNK
    qs = order_by(qs, keys)
    chunk = list(qs[:size])
    while chunk:
        yield chunk
        chunk = list(qs.filter(_after(keys, chunk[-1]))[:size])
