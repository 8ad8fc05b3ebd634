"""The outbox: notifications to send on external channels (WeCom, DingTalk, SMS, e-mail …), written in
the transaction of the change that caused them, delivered after it commits. A killed worker never
loses one, and a re-run never makes the recipient get it twice:

- `notify()` writes one `OutboxMessage` per recipient per channel that is on (settings
  GRIDGOV_NOTIFY_CHANNELS) and enqueues their delivery (a Huey task) when the transaction commits;
- `deliver(id)` claims the row with a lease (status `sending`, `locked_until`, attempts + 1) by one
  conditional UPDATE, so two workers never both hold it; it calls the channel's adapter with the
  row's id as the idempotency key, then marks the row delivered. A failure backs off
  (`next_attempt_at`), and after GRIDGOV_OUTBOX_MAX_ATTEMPTS the row is `failed` (admin: outbox);
- `sweep()` (a periodic task, every minute) delivers the rows that are due: never tried, backed off
  long enough, or whose lease ran out because the worker holding it died.

Delivery to the adapter is at least once; adapters de-duplicate on the idempotency key (the built-in
`log` channel keeps one `LogDelivery` row per key).

A channel is a function `deliver(message: OutboxMessage, key: str) -> None` that raises on failure:

    outbox.register_channel("sms", send_sms)
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from gridgov.core.models import LogDelivery, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

Adapter = Callable[[OutboxMessage, str], None]
_channels: dict[str, Adapter] = {}


def register_channel(name: str, deliver: Adapter) -> None:
    _channels[name] = deliver


def channel(name: str) -> Adapter | None:
    return _channels.get(name)


def enabled_channels() -> list[str]:
    """The external channels that are on (settings.GRIDGOV_NOTIFY_CHANNELS)."""
    return [c for c in settings.GRIDGOV_NOTIFY_CHANNELS if c]


def write(notifications: Iterable, kind_channels: dict[str, tuple[str, ...] | None]) -> list[OutboxMessage]:
    """The outbox rows of freshly written notifications, and their delivery enqueued on commit."""
    on = enabled_channels()
    if not on:
        return []
    rows = []
    for n in notifications:
        wanted = kind_channels.get(n.kind)
        for name in on:
            if wanted is None or name in wanted:
                rows.append(
                    OutboxMessage(
                        channel=name,
                        recipient_id=n.recipient_id,
                        notification_id=n.pk,
                        kind=n.kind,
                        message=n.message,
                        created_at=n.created_at,
                        next_attempt_at=timezone.now(),
                    )
                )
    created = OutboxMessage.objects.bulk_create(rows, batch_size=1000)
    ids = [m.pk for m in created]
    if ids:
        transaction.on_commit(functools.partial(enqueue, ids))
    return created


def enqueue(ids: list[int]) -> None:
    """Hand rows to a worker. If the queue cannot be reached the sweeper delivers them later."""
    try:
        from gridgov.core.tasks import deliver_outbox

        deliver_outbox(ids)
    except Exception:
        log.exception("could not enqueue outbox delivery of %s rows; the sweeper will", len(ids))


def _due(now: dt.datetime) -> Q:
    return Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxStatus.SENDING, locked_until__lt=now
    )


def claim(message_id: int, *, lease_seconds: float | None = None) -> OutboxMessage | None:
    """Take the row for delivery if it is due and nobody holds a live lease on it (one conditional
    UPDATE: of two workers racing for it, exactly one gets it). None when not claimed."""
    now = timezone.now()
    lease = dt.timedelta(seconds=lease_seconds or settings.GRIDGOV_OUTBOX_LEASE_SECONDS)
    taken = OutboxMessage.objects.filter(_due(now), pk=message_id).update(
        status=OutboxStatus.SENDING, locked_until=now + lease, attempts=F("attempts") + 1
    )
    if taken != 1:
        return None
    return OutboxMessage.objects.get(pk=message_id)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, … at most one hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(message_id: int, *, lease_seconds: float | None = None) -> str:
    """Claim and send one row. Returns "delivered", "retry", "failed" or "skipped" (not claimed)."""
    msg = claim(message_id, lease_seconds=lease_seconds)
    if msg is None:
        return "skipped"
    mine = OutboxMessage.objects.filter(pk=msg.pk, status=OutboxStatus.SENDING, attempts=msg.attempts)
    try:
        adapter = _channels.get(msg.channel)
        if adapter is None:
            raise LookupError(f"no channel named {msg.channel!r} is registered")
        adapter(msg, str(msg.pk))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if msg.attempts >= settings.GRIDGOV_OUTBOX_MAX_ATTEMPTS:
            mine.update(status=OutboxStatus.FAILED, locked_until=None, last_error=error)
            log.error("outbox %s failed for good after %s attempts: %s", msg.pk, msg.attempts, error)
            return "failed"
        mine.update(
            status=OutboxStatus.PENDING,
            locked_until=None,
            next_attempt_at=timezone.now() + backoff(msg.attempts),
            last_error=error,
        )
        log.warning("outbox %s attempt %s failed: %s", msg.pk, msg.attempts, error)
        return "retry"
    mine.update(status=OutboxStatus.DELIVERED, delivered_at=timezone.now(), locked_until=None, last_error="")
    return "delivered"


def sweep(*, limit: int = 500) -> dict[str, int]:
    """Deliver the rows that are due (new, backed off long enough, or with an expired lease)."""
    ids = list(
        OutboxMessage.objects.filter(_due(timezone.now()))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    counts: Counter = Counter(delivered=0, retry=0, failed=0, skipped=0)
    for pk in ids:
        counts[deliver(pk)] += 1
    return dict(counts)


def retry(ids: Iterable[int]) -> int:
    """Give failed rows another round (admin action)."""
    return OutboxMessage.objects.filter(pk__in=list(ids), status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )


# --- the built-in development channel ------------------------------------------------------------------
def log_channel(message: OutboxMessage, key: str) -> None:
    """Keep the message in the `LogDelivery` table (and the log), once per idempotency key."""
    LogDelivery.objects.bulk_create(
        [
            LogDelivery(
                key=key, channel=message.channel, recipient_id=message.recipient_id, message=message.message
            )
        ],
        ignore_conflicts=True,
    )
    log.info("notification to user %s (key %s): %s", message.recipient_id, key, message.message)


register_channel("log", log_channel)
