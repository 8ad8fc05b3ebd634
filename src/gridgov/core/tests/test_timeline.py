"""The one timeline: every history table is hash-chained through core.timeline.record(), and
`gridgov verify-timeline` names the first event that was edited, deleted or inserted out of order."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import threading

import pytest
from django.apps import apps as django_apps
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from gridgov import cli
from gridgov.accounts.audit import record_audit
from gridgov.accounts.models import AuditEvent, AuditEventType
from gridgov.accounts.services import purge_audit
from gridgov.cases.models import Case, TimelineEvent
from gridgov.cases.tests.conftest import act, report
from gridgov.core import timeline
from gridgov.core.models import ChainHead
from gridgov.registry.models import PiiAccessLog, RecordHistory
from gridgov.registry.pii import log_access

pytestmark = pytest.mark.django_db


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, list(params))


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _case_with_history(people) -> Case:
    """A case with five events: submit, accept, whistle, report_in, handle."""
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0102")
    act("whistle", case, people.staff_a, departments=["440309-CG"])
    act("report_in", case, people.dept_cg)
    act("handle", case, people.dept_cg, note="已清理完毕")
    return case


def _events(case) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(case=case).order_by("chain_seq"))


def _history(n: int = 4, object_id: int = 7) -> list[RecordHistory]:
    return [
        timeline.record(
            RecordHistory,
            object_type="resident",
            object_id=object_id,
            version=v,
            action="update" if v > 1 else "create",
            changes={"phone": ["138****5678", "139****4321"], "floor": v},
        )
        for v in range(1, n + 1)
    ]


def _only_finding(report_: timeline.Report) -> timeline.Finding:
    assert not report_.ok
    assert len(report_.findings) == 1, [str(f) for f in report_.findings]
    return report_.findings[0]


def _cli(capsys) -> tuple[int, str]:
    code = cli.main(["verify-timeline"])
    return code, capsys.readouterr().out


# --- writing ---------------------------------------------------------------------------------------------


def test_every_writer_appends_to_a_chain_and_a_clean_database_verifies(people, capsys):
    case = _case_with_history(people)
    _history()
    record_audit(AuditEventType.LOGIN, user=people.staff_a, object_type="user", object_id=people.staff_a.pk)
    log_access(people.staff_a, "view", object_type="resident", ids=[1, 2], fields=["phone"])

    events = _events(case)
    assert [e.action for e in events] == ["submit", "accept", "whistle", "report_in", "handle"]
    assert [e.chain_seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == ""
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert all(e.hash.startswith(timeline.algorithm() + ":") for e in events)
    assert timeline.algorithm() == "sm3"  # this OpenSSL build has SM3
    head = ChainHead.objects.get(key=f"case:{case.pk}")
    assert (head.seq, head.hash) == (5, events[-1].hash)
    assert ChainHead.objects.get(key="record:resident:7").seq == 4
    assert ChainHead.objects.filter(key__in=["audit", "pii"]).count() == 2

    result = timeline.verify()
    assert result.ok, [str(f) for f in result.findings]
    assert {t.table for t in result.tables} == {
        "cases.TimelineEvent",
        "registry.RecordHistory",
        "accounts.AuditEvent",
        "registry.PiiAccessLog",
    }
    assert result.events == TimelineEvent.objects.count() + 4 + AuditEvent.objects.count() + 1

    code, out = _cli(capsys)
    assert code == 0
    assert "every chain is intact" in out and f"{result.events:,} events" in out


def test_a_plain_create_and_bulk_create_are_chained_too(people):
    case = report(people.resident)
    TimelineEvent.objects.create(case=case, action="note", note="一")
    TimelineEvent.objects.bulk_create(
        [TimelineEvent(case=case, action="note", note=str(i)) for i in range(3)]
    )
    assert [e.chain_seq for e in _events(case)] == [1, 2, 3, 4, 5]
    assert timeline.verify([TimelineEvent]).ok


def test_record_many_keeps_the_order_within_each_chain(people):
    a, b = report(people.resident), report(people.resident2)
    batch = [TimelineEvent(case=c, action="note", note=f"{c.pk}-{i}") for i in range(3) for c in (b, a)]
    timeline.record_many(batch)
    for c in (a, b):
        events = _events(c)[1:]
        assert [e.note for e in events] == [f"{c.pk}-{i}" for i in range(3)]
        assert [e.id for e in events] == sorted(e.id for e in events)
    assert timeline.verify([TimelineEvent]).ok


def test_a_failed_transaction_leaves_no_trace_in_the_chain(people):
    case = report(people.resident)
    with pytest.raises(RuntimeError), transaction.atomic():
        timeline.record(TimelineEvent, case=case, action="note", note="rolled back")
        raise RuntimeError
    timeline.record(TimelineEvent, case=case, action="note", note="kept")
    assert [e.chain_seq for e in _events(case)] == [1, 2]
    assert timeline.verify([TimelineEvent]).ok


def test_sha256_where_openssl_lacks_sm3_and_mixed_chains_verify(people, monkeypatch):
    case = report(people.resident)
    monkeypatch.setattr(timeline, "_sm3", lambda: None)
    assert timeline.algorithm() == "sha256"
    timeline.record(TimelineEvent, case=case, action="note", note="sha")
    monkeypatch.undo()
    timeline.record(TimelineEvent, case=case, action="note", note="sm3 again")
    assert [e.hash.split(":")[0] for e in _events(case)] == ["sm3", "sha256", "sm3"]
    assert timeline.verify([TimelineEvent]).ok


@pytest.mark.skipif(connection.vendor == "sqlite", reason="threads need separate PostgreSQL connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_audit_writers_serialise_on_the_head():
    barrier = threading.Barrier(8)
    errors = []

    def write(i: int) -> None:
        try:
            barrier.wait()
            for j in range(10):
                record_audit(AuditEventType.LOGIN, username=f"u{i}", detail={"n": j})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = sorted(AuditEvent.objects.values_list("chain_seq", flat=True))
    assert seqs == list(range(1, 81))
    assert timeline.verify([AuditEvent]).ok


# --- tampering -----------------------------------------------------------------------------------------


def test_an_edited_case_event_is_named(people, capsys):
    case = _case_with_history(people)
    target = _events(case)[2]
    _sql(f"UPDATE {_table(TimelineEvent)} SET note = %s WHERE id = %s", ["没有派遣", target.pk])
    finding = _only_finding(timeline.verify())
    assert (finding.table, finding.chain, finding.kind) == (
        "cases.TimelineEvent",
        f"case:{case.pk}",
        "edited",
    )
    assert (finding.event_id, finding.seq) == (target.pk, 3)

    code, out = _cli(capsys)
    assert code == 1
    assert f"EDITED: cases.TimelineEvent chain case:{case.pk}, event id {target.pk} (#3)" in out
    assert "1 broken chain(s) found" in out


def test_an_edited_timestamp_or_actor_is_named(people):
    case = _case_with_history(people)
    events = _events(case)
    earlier = connection.ops.adapt_datetimefield_value(events[1].at - dt.timedelta(hours=3))
    _sql(f"UPDATE {_table(TimelineEvent)} SET at = %s WHERE id = %s", [earlier, events[1].pk])
    _sql(f"UPDATE {_table(TimelineEvent)} SET actor_id = %s WHERE id = %s", [people.admin.pk, events[4].pk])
    finding = _only_finding(timeline.verify())  # the first broken event of the chain
    assert (finding.kind, finding.event_id) == ("edited", events[1].pk)


def test_an_edited_record_history_is_named(people):
    history = _history()
    _history(object_id=8)
    changes = json.dumps({"phone": ["138****5678", "137****0000"], "floor": 2})
    _sql(f"UPDATE {_table(RecordHistory)} SET changes = %s WHERE id = %s", [changes, history[1].pk])
    finding = _only_finding(timeline.verify())
    assert (finding.table, finding.chain, finding.kind) == (
        "registry.RecordHistory",
        "record:resident:7",
        "edited",
    )
    assert (finding.event_id, finding.seq) == (history[1].pk, 2)


def test_an_edited_pii_access_log_entry_is_named(people):
    logs = [
        log_access(people.staff_a, "view", object_type="resident", ids=[i], fields=["phone"])
        for i in range(3)
    ]
    # The database refuses the edit (registry/0003 triggers); someone who drops the triggers first is
    # still found by the chain.
    with transaction.atomic():
        if connection.vendor == "sqlite":
            _sql("DROP TRIGGER IF EXISTS registry_piiaccesslog_no_update")
        else:
            _sql(f"ALTER TABLE {_table(PiiAccessLog)} DISABLE TRIGGER registry_piiaccesslog_guard")
        _sql(f"UPDATE {_table(PiiAccessLog)} SET username = %s WHERE id = %s", ["someone_else", logs[0].pk])
        finding = _only_finding(timeline.verify())
        assert (finding.table, finding.chain, finding.kind, finding.event_id) == (
            "registry.PiiAccessLog",
            "pii",
            "edited",
            logs[0].pk,
        )
        transaction.set_rollback(True)


def test_a_deleted_middle_event_is_named(people, capsys):
    case = _case_with_history(people)
    events = _events(case)
    _sql(f"DELETE FROM {_table(TimelineEvent)} WHERE id = %s", [events[2].pk])
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id, finding.seq) == ("deleted", events[3].pk, 4)
    assert "#3" in finding.detail

    code, out = _cli(capsys)
    assert code == 1 and f"DELETED: cases.TimelineEvent chain case:{case.pk}, event id {events[3].pk}" in out


def test_a_deleted_newest_event_is_found_by_the_head(people):
    case = _case_with_history(people)
    events = _events(case)
    _sql(f"DELETE FROM {_table(TimelineEvent)} WHERE id = %s", [events[-1].pk])
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id, finding.seq) == ("deleted", events[-2].pk, 4)
    assert "#5" in finding.detail


def test_a_chain_whose_events_are_all_deleted_is_found(people):
    _history()
    _sql(f"DELETE FROM {_table(RecordHistory)} WHERE object_id = %s", [7])
    finding = _only_finding(timeline.verify())
    assert (finding.table, finding.chain, finding.kind, finding.event_id) == (
        "registry.RecordHistory",
        "record:resident:7",
        "deleted",
        None,
    )


def test_a_deleted_record_history_entry_is_named(people):
    history = _history()
    _sql(f"DELETE FROM {_table(RecordHistory)} WHERE id = %s", [history[0].pk])
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id, finding.seq) == ("deleted", history[1].pk, 2)


def test_an_event_inserted_with_a_fitting_sequence_but_the_wrong_prev_is_named(people):
    case = _case_with_history(people)
    events = _events(case)
    # A careful forger: next sequence number, a correct hash of the row's content, but chained to an
    # older event (to slip a "handle" in before the real one) — and the head moved on as well.
    forged = TimelineEvent(case=case, at=events[2].at, action="handle", note="伪造", actor=people.dept_cg)
    prev = events[2].hash
    forged_hash = timeline.digest(
        prev, timeline.canonical(TimelineEvent, f"case:{case.pk}", 6, _values(forged))
    )
    _sql(
        f"INSERT INTO {_table(TimelineEvent)} (case_id, at, actor_id, action, from_status, to_status, note, data, "
        "attachments, chain_seq, prev_hash, hash) VALUES (%s, %s, %s, %s, '', '', %s, '{}', '[]', 6, %s, %s)",
        [case.pk, connection.ops.adapt_datetimefield_value(forged.at), people.dept_cg.pk, "handle", "伪造", prev,
         forged_hash],
    )  # fmt: skip
    ChainHead.objects.filter(key=f"case:{case.pk}").update(seq=6, hash=forged_hash)
    inserted = TimelineEvent.objects.get(note="伪造")
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id, finding.seq) == ("inserted", inserted.pk, 6)


def test_an_event_appended_behind_the_heads_back_is_named(people):
    history = _history(3)
    forged = RecordHistory(object_type="resident", object_id=7, version=4, action="update", at=timezone.now())
    forged_hash = timeline.digest(
        history[-1].hash, timeline.canonical(RecordHistory, "record:resident:7", 4, _values(forged))
    )
    _sql(
        f"INSERT INTO {_table(RecordHistory)} (object_type, object_id, version, action, at, changes, note, "
        "chain_seq, prev_hash, hash) VALUES ('resident', 7, 4, 'update', %s, '{}', '', 4, %s, %s)",
        [connection.ops.adapt_datetimefield_value(forged.at), history[-1].hash, forged_hash],
    )
    finding = _only_finding(timeline.verify())
    inserted = RecordHistory.objects.get(version=4)
    assert (finding.kind, finding.event_id, finding.seq) == ("inserted", inserted.pk, 4)
    assert "beyond the chain head" in finding.detail


def test_two_swapped_events_are_named(people):
    case = _case_with_history(people)
    a, b = _events(case)[1:3]
    columns = ["at", "actor_id", "action", "from_status", "to_status", "note", "data", "attachments", "chain_seq",
               "prev_hash", "hash"]  # fmt: skip
    rows = {e.pk: list(TimelineEvent.objects.filter(pk=e.pk).values_list(*columns).get()) for e in (a, b)}
    for target, source in ((a.pk, b.pk), (b.pk, a.pk)):
        values = rows[source]
        values[6] = json.dumps(values[6])
        values[7] = json.dumps(values[7])
        values[0] = connection.ops.adapt_datetimefield_value(values[0])
        sets = ", ".join(f"{c} = %s" for c in columns)
        with transaction.atomic():
            if target == a.pk:  # free the sequence number first (unique per case)
                _sql(f"UPDATE {_table(TimelineEvent)} SET chain_seq = NULL WHERE id = %s", [b.pk])
            _sql(f"UPDATE {_table(TimelineEvent)} SET {sets} WHERE id = %s", [*values, target])
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id, finding.seq) == ("inserted", a.pk, 3)
    assert "written before the event it follows" in finding.detail


def test_an_event_written_around_the_timeline_is_named(people):
    case = _case_with_history(people)
    _sql(
        f"INSERT INTO {_table(TimelineEvent)} (case_id, at, action, from_status, to_status, note, data, attachments, "
        "prev_hash, hash) VALUES (%s, %s, 'note', '', '', 'raw', '{}', '[]', '', '')",
        [case.pk, connection.ops.adapt_datetimefield_value(timezone.now())],
    )
    finding = _only_finding(timeline.verify())
    assert (finding.kind, finding.event_id) == ("inserted", TimelineEvent.objects.get(note="raw").pk)


def test_the_audit_log_refuses_updates_so_an_old_event_is_deleted_instead(people):
    old = [
        timeline.record(
            AuditEvent, at=timezone.now() - dt.timedelta(days=400 - i), username=f"old{i}", event_type="login"
        )
        for i in range(3)
    ]
    record_audit(AuditEventType.LOGIN, user=people.staff_a)
    with pytest.raises(DatabaseError), transaction.atomic():
        _sql(f"UPDATE {_table(AuditEvent)} SET username = %s WHERE id = %s", ["x", old[1].pk])
    # The triggers allow deleting events past the retention period; one deleted by hand, not by the
    # purge, is found.
    _sql(f"DELETE FROM {_table(AuditEvent)} WHERE id = %s", [old[1].pk])
    finding = _only_finding(timeline.verify())
    assert (finding.table, finding.chain, finding.kind) == ("accounts.AuditEvent", "audit", "deleted")
    assert (finding.event_id, finding.seq) == (old[2].pk, 3)


def test_a_retention_purge_keeps_the_audit_chain_valid(people):
    for i in range(3):
        timeline.record(AuditEvent, at=timezone.now() - dt.timedelta(days=400 - i), username=f"old{i}",
                        event_type="login")  # fmt: skip
    record_audit(AuditEventType.LOGIN, user=people.staff_a)
    assert purge_audit(365) == 3
    head = ChainHead.objects.get(key="audit")
    assert (head.first_seq, head.seq) == (4, 5)  # the login and the purge remain
    assert timeline.verify([AuditEvent]).ok
    # Everything purged: the chain starts after its head.
    with transaction.atomic():
        if connection.vendor == "sqlite":
            _sql("DROP TRIGGER IF EXISTS accounts_auditevent_no_delete")
        else:
            _sql(f"ALTER TABLE {_table(AuditEvent)} DISABLE TRIGGER accounts_auditevent_guard")
        _sql(f"DELETE FROM {_table(AuditEvent)}")
        timeline.rebase(AuditEvent, "audit")
        assert timeline.verify([AuditEvent]).ok
        transaction.set_rollback(True)


# --- existing rows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "migration", "constant", "model"),
    [
        ("cases", "0005_timeline_chain", "HASHED", TimelineEvent),
        ("registry", "0002_timeline_chain", "HISTORY_HASHED", RecordHistory),
        ("registry", "0002_timeline_chain", "PII_HASHED", PiiAccessLog),
        ("accounts", "0004_timeline_chain", "HASHED", AuditEvent),
    ],
)
def test_the_migrations_hash_the_fields_the_models_hash(app, migration, constant, model):
    module = importlib.import_module(f"gridgov.{app}.migrations.{migration}")
    assert getattr(module, constant) == model.hashed_fields


def test_the_data_migration_chains_rows_written_before_chains(people):
    case = _case_with_history(people)
    other = report(people.resident2)
    _history()
    for model in (TimelineEvent, RecordHistory):
        _sql(f"UPDATE {_table(model)} SET chain_seq = NULL, prev_hash = '', hash = ''")
    ChainHead.objects.all().delete()
    assert not timeline.verify([TimelineEvent]).ok

    importlib.import_module("gridgov.cases.migrations.0005_timeline_chain").seal(django_apps, None)
    registry = importlib.import_module("gridgov.registry.migrations.0002_timeline_chain")
    registry.seal(django_apps, None)
    result = timeline.verify()
    assert result.ok, [str(f) for f in result.findings]
    assert [e.chain_seq for e in _events(case)] == [1, 2, 3, 4, 5]
    assert [e.chain_seq for e in _events(other)] == [1]
    # and the chains go on from there
    act("accept", other, people.staff_a, category_code="E0102")
    assert timeline.verify().ok


def _values(event) -> dict:
    return {name: getattr(event, name) for name in type(event).hashed_fields}
