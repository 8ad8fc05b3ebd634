"""GET /api/v1/health — the database, the queue (pending tasks, queued imports and the oldest one's
age), whether the background consumer is alive (its heartbeat), and free disk space in the data
directory; for load balancers and operators. `status` is "ok" only when every part is."""

from __future__ import annotations

import os
import shutil
import time

from django.conf import settings
from django.db import connection
from django.utils import timezone
from ninja import Router, Schema

from gridgov import __version__

router = Router(tags=["health"])

DISK_MIN_FREE_MB = 1024  # GRIDGOV_DISK_MIN_FREE_MB: below this the disk counts as (nearly) full
DISK_MIN_FREE_FRACTION = 0.02  # … or below 2 % free


class ComponentStatus(Schema):
    ok: bool
    engine: str
    latency_ms: float
    detail: str = ""


class HealthOut(Schema):
    status: str
    version: str
    database: ComponentStatus
    queue: ComponentStatus
    consumer: ComponentStatus
    disk: ComponentStatus


def _timed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def database_status() -> ComponentStatus:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        ok, detail = True, ""
    except Exception as exc:  # noqa: BLE001 — health reports any failure
        ok, detail = False, str(exc)[:200]
    return ComponentStatus(ok=ok, engine=connection.vendor, latency_ms=_timed(started), detail=detail)


def _imports_waiting() -> tuple[int, float | None]:
    """Queued import jobs of every app (concrete `TabularJob` models) and the oldest one's age in s."""
    from django.apps import apps
    from django.db.models import Count, Min

    from gridgov.core.tabular.models import JobStatus, TabularJob

    count, oldest = 0, None
    for model in apps.get_models():
        if issubclass(model, TabularJob):
            row = model._default_manager.filter(status=JobStatus.QUEUED).aggregate(
                n=Count("pk"), first=Min("created_at")
            )
            count += row["n"]
            if row["first"] is not None and (oldest is None or row["first"] < oldest):
                oldest = row["first"]
    return count, (timezone.now() - oldest).total_seconds() if oldest else None


def queue_status() -> ComponentStatus:
    from huey.contrib.djhuey import HUEY

    started = time.perf_counter()
    engine = type(HUEY.storage).__name__
    try:
        pending = HUEY.pending_count()
        detail = f"pending={pending}"
        try:
            queued, oldest = _imports_waiting()
            detail += f" imports_queued={queued}" + (f" oldest_s={oldest:.0f}" if oldest is not None else "")
        except Exception:  # noqa: BLE001 — the database part is reported by database_status
            pass
        ok = True
    except Exception as exc:  # noqa: BLE001
        ok, detail = False, str(exc)[:200]
    return ComponentStatus(ok=ok, engine=engine, latency_ms=_timed(started), detail=detail)


def consumer_status() -> ComponentStatus:
    """Alive when its newest heartbeat is recent. Without a heartbeat ever written, alive only where
    tasks run inline (immediate mode: there is no consumer)."""
    from huey.contrib.djhuey import HUEY

    from gridgov.core.tasks import CONSUMER_STALE_SECONDS, last_beat

    started = time.perf_counter()
    try:
        beat = last_beat()
    except Exception as exc:  # noqa: BLE001
        return ComponentStatus(ok=False, engine="huey", latency_ms=_timed(started), detail=str(exc)[:200])
    if beat is None:
        ok = bool(HUEY.immediate)
        detail = "immediate: tasks run inline" if ok else "no heartbeat: the consumer is not running"
    else:
        age = max(0.0, time.time() - float(beat.get("at", 0)))
        ok = age < CONSUMER_STALE_SECONDS
        detail = f"heartbeat {age:.0f} s ago (pid {beat.get('pid')})" + (
            "" if ok else ": the consumer is dead"
        )
    return ComponentStatus(ok=ok, engine="huey", latency_ms=_timed(started), detail=detail)


def disk_status() -> ComponentStatus:
    started = time.perf_counter()
    try:
        usage = shutil.disk_usage(settings.DATA_DIR)
    except OSError as exc:
        return ComponentStatus(ok=False, engine="disk", latency_ms=_timed(started), detail=str(exc)[:200])
    configured = getattr(settings, "GRIDGOV_DISK_MIN_FREE_MB", None) or os.environ.get(
        "GRIDGOV_DISK_MIN_FREE_MB"
    )
    min_free = int(configured or DISK_MIN_FREE_MB) * 2**20
    ok = usage.free >= min_free and usage.free >= DISK_MIN_FREE_FRACTION * usage.total
    detail = f"free={usage.free // 2**20} MB of {usage.total // 2**20} MB" + ("" if ok else ": (nearly) full")
    return ComponentStatus(ok=ok, engine="disk", latency_ms=_timed(started), detail=detail)


@router.get(
    "/health", response=HealthOut, auth=None,
    summary="Health of the database, the queue, the consumer and the disk 健康检查",
)  # fmt: skip
def health(request):
    from gridgov.core import ratelimit

    ratelimit.enforce(request, "public")  # anonymous: limited per client address (429)
    parts = {
        "database": database_status(), "queue": queue_status(), "consumer": consumer_status(),
        "disk": disk_status(),
    }  # fmt: skip
    status = "ok" if all(p.ok for p in parts.values()) else "degraded"
    return HealthOut(status=status, version=__version__, **parts)
