import pytest


@pytest.mark.django_db
def test_health_reports_database_and_queue(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["engine"] in {"sqlite", "postgresql"}
    assert body["queue"]["ok"] is True
    assert body["queue"]["engine"] in {"SqliteStorage", "RedisStorage", "RedisExpireStorage", "MemoryStorage"}


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
