"""The one timeline: every app's history is appended here, and every event is hash-chained.

    record(Model, **fields)        append one event to its chain (returns the saved event)
    record_many(events)            append many (any models, any chains) in the given order
    verify(models=None)            walk every chain; the first broken event of each chain, named
    rebase(Model, key)             a retention purge removed the oldest events of a chain: it starts later
    delete_heads(keys)             a demo reset removed whole chains with plain SQL: forget their heads

An event table is a concrete subclass of `core.models.ChainedEvent` (or of `core.models.Event`, which adds
who, when, action, from → to, note and data). Each event belongs to one chain, named by its key
("case:123", "record:resident:45", "audit", "pii"), and carries its place in the chain (`chain_seq`,
from 1), the hash of the event before it (`prev_hash`, "" for the first) and its own `hash`:

    hash = "<algorithm>:" + hex(H(prev_hash + "\\n" + canonical JSON of {"chain", "seq", "event"}))

H is SM3 (GB/T 32905) from `cryptography` when the OpenSSL build has it, else SHA-256; the algorithm
is the prefix of every hash ("sm3:…", "sha256:…"), so a chain verifies wherever it was written. The
canonical JSON has sorted keys, no spaces, UTF-8, datetimes as UTC ISO 8601 with microseconds, foreign
keys as ids and JSON values as the database gives them back (integral floats as integers).

`core.models.ChainHead` keeps, per chain, the sequence number and hash of the newest event. Appending
locks the head (SELECT … FOR UPDATE; a new chain inserts it), seals the events, updates the head and
inserts the events, in one transaction: one locked row read + update and the hashing per event.
Verification compares each chain with its head, so an edited event (hash mismatch), a deleted one
(sequence gap, or the head is ahead of the newest event) and one inserted out of order (repeated
sequence number, prev_hash that is not the hash of the event before, an id older than the event it
follows, an event past the head or without a head) are all named.

What it does not prove: the hash has no key, so someone who can write the database and recomputes every
hash from the changed event on, heads included, is not detected. Keep a copy of the heads digest that
`verify()` reports (`gridgov verify-timeline` prints it) somewhere else to detect that too.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from gridgov.core.models import ChainedEvent, ChainHead

E = TypeVar("E", bound=ChainedEvent)

HEAD_BATCH = 500


# --- hashing -------------------------------------------------------------------------------------------


@functools.cache
def _sm3() -> Callable[[bytes], str] | None:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
        from cryptography.hazmat.primitives import hashes
    except ImportError:  # pragma: no cover - cryptography is a dependency
        return None
    if not backend.hash_supported(hashes.SM3()):
        return None

    def sm3(data: bytes) -> str:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize().hex()

    return sm3


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def algorithm() -> str:
    """The algorithm new hashes use: "sm3" when this OpenSSL build has SM3, else "sha256"."""
    return "sm3" if _sm3() is not None else "sha256"


def digest(prev_hash: str, canonical: str, name: str | None = None) -> str:
    """`name:hex` of H(prev_hash + "\\n" + canonical); name defaults to algorithm()."""
    name = name or algorithm()
    data = prev_hash.encode("ascii") + b"\n" + canonical.encode("utf-8")
    if name == "sm3":
        sm3 = _sm3()
        if sm3 is None:
            raise LookupError("this OpenSSL build has no SM3")
        return "sm3:" + sm3(data)
    if name == "sha256":
        return "sha256:" + _sha256(data)
    raise LookupError(f"unknown hash algorithm {name!r}")


def _plain_json(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(v) for v in value]
    return value


@functools.cache
def _normalisers(model: type[models.Model], names: tuple[str, ...]) -> tuple[tuple[str, Callable], ...]:
    """One function per hashed attname that turns a value, as given at insert or as read back from the
    database, into the same plain JSON value."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    out = []
    for name in names:
        f = by_attname.get(name)
        if f is None:
            raise ImproperlyConfigured(f"{model._meta.label}.hashed_fields names {name!r}, not a column")
        out.append((name, _normaliser(f)))
    return tuple(out)


def _normaliser(f: models.Field) -> Callable:
    if isinstance(f, models.DateTimeField):

        def norm_datetime(v):
            if v is None:
                return None
            if timezone.is_naive(v):
                v = timezone.make_aware(v, timezone.get_default_timezone())
            return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        return norm_datetime
    if isinstance(f, models.JSONField):
        encoder = f.encoder

        def norm_json(v):
            return _plain_json(json.loads(json.dumps(v, cls=encoder)))

        return norm_json
    if isinstance(f, models.GenericIPAddressField):

        def norm_ip(v):
            return str(ipaddress.ip_address(str(v).strip())) if v not in (None, "") else None

        return norm_ip
    target = cast(models.ForeignKey, f).target_field if f.is_relation else f

    def norm(v):
        return None if v is None else target.to_python(v)

    return norm


def canonical(
    model: type[models.Model], key: str, seq: int, values: dict, hashed_fields: Sequence[str] | None = None
) -> str:
    """The canonical JSON of an event: its chain key, sequence number and hashed field values (the
    model's `hashed_fields` unless given)."""
    names = tuple(model.hashed_fields if hashed_fields is None else hashed_fields)  # type: ignore[attr-defined]
    if hashed_fields is None:  # fields added to a table with rows: hashed once they hold a value
        names += tuple(n for n in getattr(model, "hashed_if_set", ()) if values.get(n) is not None)
    event = {name: norm(values[name]) for name, norm in _normalisers(model, names)}
    return json.dumps(
        {"chain": key, "seq": seq, "event": event},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


# --- appending -----------------------------------------------------------------------------------------


def record(model: type[E], **fields) -> E:
    """Append one event of `model` (a ChainedEvent) built from `fields` to its chain; returns it saved."""
    event = model(**fields)
    record_many([event])
    return event


def record_many(events: Sequence[ChainedEvent], *, batch_size: int = 1000) -> list[ChainedEvent]:
    """Append events to their chains in the given order (events of one chain get consecutive sequence
    numbers in list order, and ids in that order). One transaction (or the caller's): the heads of the
    chains are locked in key order, the events sealed and inserted, the heads moved on."""
    events = list(events)
    if not events:
        return events
    for e in events:
        if not isinstance(e, ChainedEvent) or e.pk is not None or getattr(e, "_timeline_sealed", False):
            raise ValueError("record_many takes new, unsaved timeline events")
    chains: dict[str, list[ChainedEvent]] = {}
    for e in events:
        _check_model(type(e))
        chains.setdefault(e.chain_key(), []).append(e)
    with transaction.atomic(savepoint=False):
        keys = sorted(chains)
        heads = _lock_heads(keys)
        new = [k for k in keys if k not in heads]
        for k in new:
            heads[k] = ChainHead(key=k)
        for k in keys:
            _seal(heads[k], chains[k])
        lost = _insert_heads([heads[k] for k in new]) if new else set()
        if lost:  # another writer started these chains meanwhile: continue from their heads
            again = _lock_heads(sorted(lost))
            for k in sorted(lost):
                _seal(again[k], chains[k])
                heads[k] = again[k]
        _update_heads([heads[k] for k in keys if k not in new or k in lost])
        _insert_events(events, batch_size)
    return events


@functools.cache
def _check_model(model: type[models.Model]) -> None:
    """auto_now(_add) sets a timestamp at insert, after the event was hashed: not in a hashed field."""
    for f in model._meta.concrete_fields:
        stamped = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        if stamped and f.attname in model.hashed_fields:  # type: ignore[attr-defined]
            raise ImproperlyConfigured(
                f"{model._meta.label}.{f.name}: use default=timezone.now, not auto_now(_add)"
            )


def _seal(head: ChainHead, chain: list[ChainedEvent]) -> None:
    """Give each event of one chain its sequence number, prev_hash and hash, continuing from `head`,
    and move `head` to the last of them."""
    model = type(chain[0])
    name = algorithm()
    seq, prev = head.seq, head.hash
    for e in chain:
        if type(e) is not model:
            raise ImproperlyConfigured(f"two tables share the chain {head.key}")
        seq += 1
        values = {n: getattr(e, n) for n in (*model.hashed_fields, *model.hashed_if_set)}
        e.chain_seq = seq
        e.prev_hash = prev
        e.hash = prev = digest(prev, canonical(model, head.key, seq, values), name)
        e._timeline_sealed = True
    head.seq, head.hash = seq, prev


def _lock_heads(keys: list[str]) -> dict[str, ChainHead]:
    """The existing heads of `keys`, locked until the transaction ends (plain SQL: this runs once per
    event written, and the ORM's query building would cost more than the query)."""
    q = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    heads: dict[str, ChainHead] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(keys), HEAD_BATCH):
            chunk = keys[start : start + HEAD_BATCH]
            cursor.execute(
                f"SELECT {q('key')}, {q('seq')}, {q('hash')}, {q('first_seq')}, {q('first_prev')} "  # noqa: S608
                f"FROM {q(ChainHead._meta.db_table)} WHERE {q('key')} IN ({', '.join(['%s'] * len(chunk))}) "
                f"ORDER BY {q('key')}{lock}",
                chunk,
            )
            for key, seq, hash_, first_seq, first_prev in cursor.fetchall():
                heads[key] = ChainHead(
                    key=key, seq=seq, hash=hash_, first_seq=first_seq, first_prev=first_prev
                )
    return heads


def _insert_heads(heads: list[ChainHead]) -> set[str]:
    """Insert the heads of new chains with their final values; the keys another writer inserted first
    (the insert did nothing) are returned."""
    table = connection.ops.quote_name(ChainHead._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in ("key", "seq", "hash", "first_seq", "first_prev"))
    key_col = connection.ops.quote_name("key")
    inserted: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(heads), HEAD_BATCH):
            chunk = heads[start : start + HEAD_BATCH]
            rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            params = [v for h in chunk for v in (h.key, h.seq, h.hash, h.first_seq, h.first_prev)]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES {rows} ON CONFLICT ({key_col}) DO NOTHING RETURNING {key_col}",  # noqa: S608
                params,
            )
            inserted.update(r[0] for r in cursor.fetchall())
    return {h.key for h in heads} - inserted


def _update_heads(heads: list[ChainHead]) -> None:
    if not heads:
        return
    q = connection.ops.quote_name
    statement = (
        f"UPDATE {q(ChainHead._meta.db_table)} SET {q('seq')} = %s, {q('hash')} = %s WHERE {q('key')} = %s"  # noqa: S608
    )
    rows = [(h.seq, h.hash, h.key) for h in heads]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(statement, rows[0])
        else:
            cursor.executemany(statement, rows)


def _insert_events(events: list[ChainedEvent], batch_size: int) -> None:
    if len(events) == 1:
        events[0].save()
        return
    run: list[ChainedEvent] = []
    for e in events:
        if run and type(e) is not type(run[0]):
            type(run[0]).objects.bulk_create(run, batch_size=batch_size)
            run = []
        run.append(e)
    type(run[0]).objects.bulk_create(run, batch_size=batch_size)


# --- chains that lose events on purpose ------------------------------------------------------------------


def rebase(model: type[ChainedEvent], key: str) -> ChainHead:
    """After a retention purge deleted the oldest events of the chain `key`: the chain now starts at its
    oldest remaining event (or, when none remains, after the head). Call it in the purge's transaction."""
    with transaction.atomic(savepoint=False):
        head = _lock_heads([key]).get(key)
        if head is None:
            return ChainHead(key=key)
        qs = model._base_manager.filter(_chain_q(model, key), chain_seq__isnull=False)
        first = qs.order_by("chain_seq").values("chain_seq", "prev_hash").first()
        if first is None:
            head.first_seq, head.first_prev = head.seq + 1, head.hash
        else:
            first_seq = first["chain_seq"]
            assert first_seq is not None  # the query excludes chain_seq IS NULL
            head.first_seq, head.first_prev = first_seq, first["prev_hash"]
        ChainHead.objects.filter(key=key).update(first_seq=head.first_seq, first_prev=head.first_prev)
        return head


def delete_heads(keys: Iterable[str]) -> int:
    """Forget the heads of chains whose events were all deleted on purpose (the demo reset)."""
    keys = list(keys)
    deleted = 0
    for start in range(0, len(keys), HEAD_BATCH):
        deleted += ChainHead.objects.filter(key__in=keys[start : start + HEAD_BATCH]).delete()[0]
    return deleted


def _chain_q(model: type[ChainedEvent], key: str) -> Q:
    parts = key.split(":")[1:]
    if len(parts) != len(model.chain_fields):
        raise ValueError(f"{key!r} is not a chain of {model._meta.label}")
    return Q(**dict(zip(model.chain_fields, parts, strict=True)))


# --- existing rows ----------------------------------------------------------------------------------------


def seal_existing(
    model: type[models.Model],
    head_model: type[models.Model],
    *,
    prefix: str,
    chain_fields: tuple[str, ...],
    hashed_fields: tuple[str, ...],
    batch_size: int = 1000,
) -> int:
    """Chain the rows of an event table written before it had chains, in id order (the order they were
    written), and write the heads. For data migrations: `model` and `head_model` are historical models
    and the field lists are the ones the table declares. Returns the number of rows sealed."""

    name = algorithm()
    pending: list = []
    heads: list = []
    sealed = 0

    def flush() -> None:
        if pending:
            model._base_manager.bulk_update(
                pending, ["chain_seq", "prev_hash", "hash"], batch_size=batch_size
            )
            pending.clear()
        if heads:
            head_model._default_manager.bulk_create(heads, batch_size=batch_size)
            heads.clear()

    rows = model._base_manager.order_by(*chain_fields, "id").values("id", *chain_fields, *hashed_fields)
    key, seq, prev = None, 0, ""
    for row in rows.iterator(chunk_size=batch_size):
        row_key = ":".join([prefix, *(str(row[f]) for f in chain_fields)])
        if row_key != key:
            if key is not None:
                heads.append(head_model(key=key, seq=seq, hash=prev))
            key, seq, prev = row_key, 0, ""
        seq += 1
        event_hash = digest(prev, canonical(model, key, seq, row, hashed_fields), name)
        pending.append(model(id=row["id"], chain_seq=seq, prev_hash=prev, hash=event_hash))
        prev = event_hash
        sealed += 1
        if len(pending) >= batch_size:
            flush()
    if key is not None:
        heads.append(head_model(key=key, seq=seq, hash=prev))
    flush()
    return sealed


# --- verification ------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """The first broken event of one chain: `kind` is "edited", "deleted" or "inserted"."""

    table: str
    chain: str
    kind: str
    event_id: int | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"event id {self.event_id} (#{self.seq})" if self.event_id is not None else "chain"
        return f"{self.kind.upper()}: {self.table} chain {self.chain}, {where}: {self.detail}"


@dataclass
class TableReport:
    table: str
    chains: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Report:
    tables: list[TableReport]
    seconds: float
    heads_digest: str

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.tables for f in t.findings]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def chains(self) -> int:
        return sum(t.chains for t in self.tables)

    @property
    def events(self) -> int:
        return sum(t.events for t in self.tables)

    def lines(self) -> list[str]:
        """The report as printed by `gridgov verify-timeline`."""
        out = []
        for t in self.tables:
            state = "intact" if not t.findings else f"{len(t.findings)} broken chain(s)"
            out.append(f"{t.table:<24} {t.chains:>9,} chains {t.events:>11,} events  {state}")
        out.extend(str(f) for f in self.findings)
        verdict = "every chain is intact" if self.ok else f"{len(self.findings)} broken chain(s) found"
        out.append(
            f"verify-timeline: {len(self.tables)} tables, {self.chains:,} chains, {self.events:,} events "
            f"checked in {self.seconds:.2f} s: {verdict}"
        )
        out.append(f"heads digest (keep a copy elsewhere to compare later): {self.heads_digest}")
        return out


def chained_models() -> list[type[ChainedEvent]]:
    """Every concrete event table on the timeline, with unique chain prefixes."""
    found = [m for m in apps.get_models() if issubclass(m, ChainedEvent)]
    seen: dict[str, str] = {}
    for m in found:
        p = m.chain_prefix
        if not p or ":" in p or p in seen:
            raise ImproperlyConfigured(f"{m._meta.label}: chain_prefix {p!r} is empty, has ':' or is taken")
        seen[p] = m._meta.label
    return found


def verify(models_: Iterable[type[ChainedEvent]] | None = None) -> Report:
    """Walk every chain of every event table (or of `models_`) and name the first broken event of each
    chain; compare each chain with its head."""
    started = time.perf_counter()
    tables = [verify_table(m) for m in (chained_models() if models_ is None else models_)]
    heads = ChainHead.objects.order_by("key").values_list("key", "seq", "hash")
    text = "\n".join(f"{k} {s} {h}" for k, s, h in heads.iterator(chunk_size=5000))
    return Report(tables, time.perf_counter() - started, digest("", text))


def verify_table(model: type[ChainedEvent]) -> TableReport:
    report = TableReport(model._meta.label)
    prefix = model.chain_prefix
    heads = {
        h.key: h for h in ChainHead.objects.filter(Q(key=prefix) | Q(key__startswith=prefix + ":")).iterator()
    }
    names = list(
        dict.fromkeys(
            [
                "id",
                "chain_seq",
                "prev_hash",
                "hash",
                *model.chain_fields,
                *model.hashed_fields,
                *model.hashed_if_set,
            ]
        )
    )
    order: list[str | models.OrderBy] = [
        *model.chain_fields,
        models.F("chain_seq").asc(nulls_first=True),
        "id",
    ]
    rows = model._base_manager.order_by(*order).values(*names).iterator(chunk_size=2000)
    check: _ChainCheck | None = None

    def close(check: _ChainCheck) -> None:
        report.chains += 1
        finding = check.finish()
        if finding is not None:
            report.findings.append(finding)

    for row in rows:
        report.events += 1
        row_key = model.chain_key_of(*(row[f] for f in model.chain_fields))
        if check is None or row_key != check.key:
            if check is not None:
                close(check)
            check = _ChainCheck(model, row_key, heads.pop(row_key, None))
        check.feed(row)
    if check is not None:
        close(check)
    for k, head in sorted(heads.items()):
        if head.seq >= head.first_seq:
            report.chains += 1
            report.findings.append(
                Finding(
                    report.table,
                    k,
                    "deleted",
                    None,
                    None,
                    f"every event is gone: the head expects #{head.first_seq}…#{head.seq}",
                )
            )
    return report


class _ChainCheck:
    """Checks one chain row by row (a chain may be the whole audit log: nothing is kept but the last row);
    the first broken event is the finding."""

    def __init__(self, model: type[ChainedEvent], key: str, head: ChainHead | None) -> None:
        self.model, self.key, self.head = model, key, head
        self.expected_seq = head.first_seq if head else 1
        self.expected_prev = head.first_prev if head else ""
        self.first: dict | None = None
        self.last: dict | None = None
        self.beyond: dict | None = None
        self.finding: Finding | None = None

    def found(self, kind: str, row: dict | None, detail: str) -> Finding:
        event_id, seq = (row["id"], row["chain_seq"]) if row else (None, None)
        return Finding(self.model._meta.label, self.key, kind, event_id, seq, detail)

    def feed(self, row: dict) -> None:
        if self.finding is None:
            self.finding = self._check(row)

    def _check(self, row: dict) -> Finding | None:
        self.first = self.first or row
        seq = row["chain_seq"]
        if seq is None:
            return self.found("inserted", row, "it has no place in the chain (written around the timeline)")
        if seq < self.expected_seq:
            return self.found(
                "inserted", row, f"its sequence number repeats or goes back (expected #{self.expected_seq})"
            )
        if seq > self.expected_seq:
            gap = (
                f"#{self.expected_seq}"
                if seq == self.expected_seq + 1
                else f"#{self.expected_seq}…#{seq - 1}"
            )
            return self.found("deleted", row, f"the event(s) {gap} before it are missing")
        name = (row["hash"] or "").split(":", 1)[0]
        try:
            ok = digest(row["prev_hash"], canonical(self.model, self.key, seq, row), name) == row["hash"]
        except LookupError as exc:
            return self.found("unverifiable", row, str(exc))
        if not ok:
            return self.found("edited", row, "its content does not match its hash")
        if row["prev_hash"] != self.expected_prev:
            return self.found("inserted", row, "it does not follow the event before it (prev_hash differs)")
        if self.last is not None and row["id"] < self.last["id"]:
            return self.found(
                "inserted", row, f"it was written before the event it follows (id {self.last['id']})"
            )
        if self.head is not None and seq == self.head.seq + 1:
            self.beyond = row
        self.expected_seq, self.expected_prev, self.last = seq + 1, row["hash"], row
        return None

    def finish(self) -> Finding | None:
        if self.finding is not None:
            return self.finding
        head, last = self.head, self.last
        if head is None:
            return self.found("inserted", self.first, "the chain has no head (written around the timeline)")
        newest = self.expected_seq - 1
        if head.seq > newest:
            gap = f"#{newest + 1}" if head.seq == newest + 1 else f"#{newest + 1}…#{head.seq}"
            return self.found("deleted", last, f"the newest event(s) {gap} after it are missing")
        if head.seq < newest:
            return self.found("inserted", self.beyond, f"it lies beyond the chain head (#{head.seq})")
        if head.hash != self.expected_prev:
            return self.found("edited", last, "the newest event does not match the chain head")
        return None
