"""Background jobs of the kernel (thin: they call the outbox)."""

from __future__ import annotations

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
