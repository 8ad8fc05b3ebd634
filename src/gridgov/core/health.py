"""GET /api/v1/health — database and queue status, for load balancers and operators."""

from __future__ import annotations

import time

from django.db import connection
from ninja import Router, Schema

from gridgov import __version__

router = Router(tags=["health"])


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


def database_status() -> ComponentStatus:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        ok, detail = True, ""
    except Exception as exc:  # noqa: BLE001 — health reports any failure
        ok, detail = False, str(exc)[:200]
    return ComponentStatus(
        ok=ok,
        engine=connection.vendor,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        detail=detail,
    )


def queue_status() -> ComponentStatus:
    from huey.contrib.djhuey import HUEY

    started = time.perf_counter()
    engine = type(HUEY.storage).__name__
    try:
        pending = HUEY.pending_count()
        ok, detail = True, f"pending={pending}"
    except Exception as exc:  # noqa: BLE001
        ok, detail = False, str(exc)[:200]
    return ComponentStatus(
        ok=ok, engine=engine, latency_ms=round((time.perf_counter() - started) * 1000, 2), detail=detail
    )


@router.get("/health", response=HealthOut, auth=None, summary="Health of the database and the queue 健康检查")
def health(request):
    from gridgov.core import ratelimit

    ratelimit.enforce(request, "public")  # anonymous: limited per client address (429)
    db, queue = database_status(), queue_status()
    return HealthOut(
        status="ok" if db.ok and queue.ok else "degraded", version=__version__, database=db, queue=queue
    )
