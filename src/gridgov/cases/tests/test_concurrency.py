"""Stale versions answer 409 and change nothing; of 20 conflicting moves exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from gridgov.cases import services
from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import Api, act, report
from gridgov.core.errors import Conflict


def test_stale_version_is_a_conflict_and_changes_nothing(people, world):
    case = report(people.resident)
    act("accept", case, people.staff_a, category_code="E0102")
    case.refresh_from_db()
    stale = case.version - 1
    r = Api(people.staff_a).action(case, "whistle", version=stale, departments=["440309-CG"])
    assert r.status_code == 409
    assert r.json()["current_version"] == case.version
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.version) == ("accepted", case.version)
    assert not Step.objects.filter(case=case).exists()
    assert TimelineEvent.objects.filter(case=case, action="whistle").count() == 0


def test_twenty_sequential_moves_on_one_version(people, world):
    case = report(people.resident)
    version = case.version
    outcomes = []
    for i in range(20):
        try:
            services.perform(
                "accept" if i % 2 else "reject",
                case_id=case.pk,
                version=version,
                actor=people.staff_a,
                fields={"category_code": "E0102", "reason": "重复"},
            )
            outcomes.append("won")
        except Conflict:
            outcomes.append("409")
    assert outcomes.count("won") == 1 and outcomes.count("409") == 19
    case.refresh_from_db()
    assert case.version == version + 1
    moves = TimelineEvent.objects.filter(case=case).exclude(action="submit")
    assert moves.count() == 1 and moves.get().to_status == case.status


@pytest.mark.skipif(connection.vendor == "sqlite", reason="threads need separate PostgreSQL connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_concurrent_moves_exactly_one_wins(people, world):
    services.seed_categories()  # the category seed is data; a flush by an earlier test may have removed it
    case = report(people.resident)
    version = case.version
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            services.perform(
                "accept" if i % 2 else "reject",
                case_id=case.pk,
                version=version,
                actor=people.staff_a,
                fields={"category_code": "E0102", "reason": "重复"},
            )
            outcome = "won"
        except Conflict:
            outcome = "409"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome = f"error: {exc!r}"
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1, results
    assert results.count("409") == 19, results
    case.refresh_from_db()
    assert case.version == version + 1
    moves = TimelineEvent.objects.filter(case=case).exclude(action="submit")
    assert moves.count() == 1 and moves.get().to_status == case.status
