"""Notifications and the outbox: written in the transaction of the change (a rollback leaves nothing),
claimed under a lease by one worker only, retried with back-off, and delivered once to the recipient
even when the worker delivering it is killed (SIGKILL) in the middle of the delivery."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from gridgov.core import notifications, outbox
from gridgov.core.models import LogDelivery, Notification, OutboxMessage

SRC = Path(__file__).resolve().parents[3]
KIND = "core_test.ping"
notifications.register_kind(KIND, "Ping %(n)s.", label="ping")
notifications.register_kind("core_test.quiet", "Quiet %(n)s.", channels=())

pytestmark = pytest.mark.django_db


def _user(name="ping"):
    return get_user_model().objects.create_user(name, password=None)


@pytest.fixture
def log_on(settings):
    settings.GRIDGOV_NOTIFY_CHANNELS = ["log"]


@pytest.fixture
def enqueued(monkeypatch) -> list[list[int]]:
    """The deliveries handed to the queue (the queue itself is not run)."""
    calls: list[list[int]] = []
    monkeypatch.setattr(outbox, "enqueue", calls.append)
    return calls


def test_notify_writes_the_in_app_row_and_one_outbox_row_per_channel(
    log_on, enqueued, django_capture_on_commit_callbacks
):
    user = _user()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notes = notifications.notify([user, user.pk], KIND, {"n": 1})  # the same person twice
            assert enqueued == []  # nothing is handed to a worker before the commit
    assert len(notes) == 1 and notes[0].recipient == user and notes[0].message == "Ping 1."
    row = OutboxMessage.objects.get()
    assert (row.channel, row.recipient_id, row.notification_id, row.message, row.status) == (
        "log",
        user.pk,
        notes[0].pk,
        "Ping 1.",
        "pending",
    )
    assert enqueued == [[row.pk]]


def test_no_outbox_row_without_a_channel_on_or_for_an_in_app_kind(settings, enqueued):
    user = _user()
    notifications.notify([user], KIND, {"n": 1})  # no channel is on
    settings.GRIDGOV_NOTIFY_CHANNELS = ["log"]
    notifications.notify([user], "core_test.quiet", {"n": 2})  # the kind has no external channel
    assert Notification.objects.filter(recipient=user).count() == 2
    assert not OutboxMessage.objects.exists()


def test_a_rolled_back_transaction_leaves_no_notification_and_no_outbox_row(
    log_on, enqueued, django_capture_on_commit_callbacks
):
    user = _user()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                notifications.notify([user], KIND, {"n": 2})
                assert Notification.objects.count() == 1 and OutboxMessage.objects.count() == 1
                raise RuntimeError("the change failed")
    assert Notification.objects.count() == 0 and OutboxMessage.objects.count() == 0
    assert callbacks == [] and enqueued == []


def test_an_unregistered_kind_is_refused(log_on):
    with pytest.raises(LookupError):
        notifications.notify([_user()], "core_test.nobody_registered_this", {})


def test_delivery_marks_the_row_and_the_log_channel_keeps_one_per_key(log_on, enqueued):
    notifications.notify([_user()], KIND, {"n": 3})
    row = OutboxMessage.objects.get()
    assert outbox.deliver(row.pk) == "delivered"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.locked_until) == ("delivered", 1, None) and row.delivered_at
    assert outbox.deliver(row.pk) == "skipped"  # delivered rows are never claimed again
    outbox.log_channel(row, str(row.pk))  # the same key delivered again …
    assert list(LogDelivery.objects.values_list("key", "message")) == [
        (str(row.pk), "Ping 3.")
    ]  # … kept once


def test_a_live_lease_is_not_taken_over_and_an_expired_one_is(log_on, enqueued):
    notifications.notify([_user()], KIND, {"n": 4})
    row = OutboxMessage.objects.get()
    assert outbox.claim(row.pk, lease_seconds=60) is not None
    assert outbox.claim(row.pk, lease_seconds=60) is None
    assert outbox.sweep() == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
    OutboxMessage.objects.filter(pk=row.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.sweep()["delivered"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)


def test_failures_back_off_then_fail_for_good_and_an_admin_may_retry(settings, monkeypatch, enqueued):
    def broken(message, key):
        raise ConnectionError("gateway down")

    monkeypatch.setitem(outbox._channels, "broken", broken)
    settings.GRIDGOV_NOTIFY_CHANNELS = ["broken"]
    settings.GRIDGOV_OUTBOX_MAX_ATTEMPTS = 2
    notifications.notify([_user()], KIND, {"n": 5})
    row = OutboxMessage.objects.get()
    assert outbox.deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert (row.status, row.attempts, row.locked_until) == ("pending", 1, None)
    assert row.next_attempt_at > timezone.now() + dt.timedelta(seconds=20)
    assert "gateway down" in row.last_error
    assert outbox.sweep()["retry"] == 0  # not due yet: backing off
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert outbox.sweep()["failed"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 2)
    assert outbox.sweep()["failed"] == 0  # failed rows wait for a person
    assert outbox.retry([row.pk]) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)


def test_the_queue_task_delivers_after_the_commit(log_on, django_capture_on_commit_callbacks):
    from huey.contrib.djhuey import HUEY

    from gridgov.core.tasks import sweep_outbox

    previous = HUEY.immediate
    HUEY.immediate = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            notifications.notify([_user()], KIND, {"n": 6})
            assert LogDelivery.objects.count() == 0
    finally:
        HUEY.immediate = previous
    row = OutboxMessage.objects.get()
    assert row.status == "delivered"
    assert list(LogDelivery.objects.values_list("key", flat=True)) == [str(row.pk)]
    assert sweep_outbox.call_local() == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}


# --- with real concurrency: committed rows, other connections and processes ---------------------------
# (serialized_rollback: the database is emptied after these tests without recreating content types, so
# that a later test with serialized_rollback can restore the database as migrated.)
def _committed_rows(count: int) -> list[int]:
    user = _user()
    with transaction.atomic():
        for n in range(count):
            notifications.notify([user], KIND, {"n": n})
    return list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_claimers_never_both_claim_a_row(log_on, enqueued):
    ids = _committed_rows(12)
    start = threading.Barrier(2)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def claimer(name: str) -> None:
        try:
            start.wait(timeout=30)
            for pk in ids:
                if outbox.claim(pk, lease_seconds=60) is not None:
                    claimed[name].append(pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not set(claimed["a"]) & set(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == ids
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outbox_delivers_once_after_the_worker_is_killed_mid_delivery(log_on, enqueued, tmp_path):
    (pk,) = _committed_rows(1)
    flag = tmp_path / "delivering"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gridgov.core.tests.outbox_worker",
            str(connection.settings_dict["NAME"]),
            str(pk),
            str(flag),
            "8",  # lease seconds
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert worker.poll() is None, "the worker ended before it delivered"
            assert time.monotonic() < deadline, "the worker did not deliver in time"
            time.sleep(0.05)
        # The worker holds the lease and the recipient has the message; the row is not marked yet.
        row = OutboxMessage.objects.get(pk=pk)
        assert (row.status, row.attempts) == ("sending", 1) and row.locked_until > timezone.now()
        assert LogDelivery.objects.filter(key=str(pk)).count() == 1
        assert outbox.sweep()["delivered"] == 0  # a live lease is left alone
        worker.send_signal(signal.SIGKILL)  # kill -9 in the middle of the delivery
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    row = OutboxMessage.objects.get(pk=pk)
    assert row.status == "sending"  # the dead worker's row stays claimed until its lease runs out
    time.sleep(max((row.locked_until - timezone.now()).total_seconds(), 0) + 0.2)
    assert outbox.sweep()["delivered"] == 1  # the sweeper takes it over and delivers it again …
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)
    assert LogDelivery.objects.filter(key=str(pk)).count() == 1  # … and the recipient has it once
    assert outbox.sweep()["delivered"] == 0
