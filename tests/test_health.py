import shutil
import time
from collections import namedtuple

import pytest

from gridgov.core import tasks
from gridgov.testing import immediate_tasks


@pytest.fixture
def queue():
    """The queue in memory (immediate mode), so heartbeats written here stay in this test."""
    with immediate_tasks():
        yield


@pytest.mark.django_db
def test_health_reports_database_and_queue(client, queue):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["engine"] in {"sqlite", "postgresql"}
    assert body["queue"]["ok"] is True
    assert body["queue"]["engine"] in {"SqliteStorage", "RedisStorage", "RedisExpireStorage", "MemoryStorage"}
    assert "pending=0" in body["queue"]["detail"] and "imports_queued=0" in body["queue"]["detail"]
    assert body["consumer"]["ok"] is True and body["disk"]["ok"] is True
    assert "free=" in body["disk"]["detail"]


@pytest.mark.django_db
def test_health_is_not_ok_when_the_consumer_stopped_beating(client, queue):
    tasks.beat()
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["consumer"]["ok"] is True
    tasks.beat(at=time.time() - 10 * 60)  # the consumer died ten minutes ago
    body = client.get("/api/v1/health").json()
    assert body["status"] == "degraded" and body["consumer"]["ok"] is False
    assert "dead" in body["consumer"]["detail"]


@pytest.mark.django_db
def test_health_is_not_ok_without_a_consumer_when_tasks_are_queued(client, queue, monkeypatch):
    from huey.contrib.djhuey import HUEY

    monkeypatch.setattr(HUEY, "_immediate", False)  # tasks go to a queue…
    monkeypatch.setattr(tasks, "last_beat", lambda: None)  # …and no consumer ever wrote a heartbeat
    body = client.get("/api/v1/health").json()
    assert body["status"] == "degraded" and body["consumer"]["ok"] is False
    assert "not running" in body["consumer"]["detail"]


@pytest.mark.django_db
def test_health_is_not_ok_when_the_disk_is_full(client, queue, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: usage(100 * 2**30, 100 * 2**30 - 50 * 2**20, 50 * 2**20)
    )
    body = client.get("/api/v1/health").json()
    assert body["status"] == "degraded" and body["disk"]["ok"] is False
    assert "free=50 MB" in body["disk"]["detail"] and "full" in body["disk"]["detail"]


def test_openapi_document_and_docs_are_served(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/health" in paths
    assert all(p.startswith("/api/v1/") for p in paths)
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    # Offline: the docs page must not load anything from a CDN.
    assert b"cdn." not in docs.content and b"unpkg" not in docs.content


@pytest.mark.django_db
def test_unknown_api_path_is_problem_json_in_chinese_by_default(client):
    response = client.get("/api/v1/territory/areas/999999999999999")
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
