"""Background jobs of the kernel (thin: they call the outbox), and the consumer's heartbeat.

The consumer (`gridgov worker`, supervised by `gridgov serve`) writes a heartbeat into the queue's
storage every `HEARTBEAT_SECONDS` (Redis or the SQLite queue file, so a web server on another host
reads it too); `/health` says the consumer is dead when the newest beat is older than
`CONSUMER_STALE_SECONDS`.
"""

from __future__ import annotations

import os
import threading
import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.core import outbox


@db_task()
def deliver_outbox(ids: list[int]) -> dict[str, int]:
    """Deliver outbox rows written by a transaction that has just committed."""
    counts: dict[str, int] = {}
    for pk in ids:
        status = outbox.deliver(pk)
        counts[status] = counts.get(status, 0) + 1
    return counts


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> dict[str, int]:
    """Every minute: deliver the outbox rows that are due, those of a killed worker included."""
    return outbox.sweep()


# --- the consumer's heartbeat ---------------------------------------------------------------------------
HEARTBEAT_KEY = "gridgov:consumer-heartbeat"
HEARTBEAT_SECONDS = 10
CONSUMER_STALE_SECONDS = 60


def beat(at: float | None = None) -> None:
    """Record that the consumer is alive (now, or at `at`: tests)."""
    from huey.contrib.djhuey import HUEY

    HUEY.put(HEARTBEAT_KEY, {"at": time.time() if at is None else at, "pid": os.getpid()})


def last_beat() -> dict | None:
    """The newest heartbeat ({"at": epoch seconds, "pid"}), or None when no consumer ever wrote one."""
    from huey.contrib.djhuey import HUEY

    value = HUEY.get(HEARTBEAT_KEY, peek=True)
    return value if isinstance(value, dict) else None


def start_heartbeat(interval: float = HEARTBEAT_SECONDS) -> threading.Thread:
    """Beat now and then every `interval` seconds from a daemon thread of the consumer process (it
    dies with the process, so a dead consumer stops beating)."""

    def loop() -> None:
        while True:
            try:
                beat()
            except Exception:  # noqa: BLE001 - the queue's storage may be briefly unavailable
                pass
            time.sleep(interval)

    beat()
    thread = threading.Thread(target=loop, name="gridgov-heartbeat", daemon=True)
    thread.start()
    return thread
