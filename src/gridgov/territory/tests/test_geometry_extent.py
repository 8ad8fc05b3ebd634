"""A geometry must be a geometry, and lie where its area lies: `{}` does not clear a grid, and a square at
(0, 0) is refused for a grid of a Shenzhen community — 422 problem+json in the user's language, nothing
changed."""

from __future__ import annotations

import json

import pytest

from gridgov.territory.models import Area
from gridgov.territory.tests.conftest import polygon_json

pytestmark = pytest.mark.django_db

GRID = "440309002001001"
URL = f"/api/v1/territory/areas/{GRID}"


def _patch(client, body, lang="zh-hans"):
    return client.patch(URL, json.dumps(body), content_type="application/json", HTTP_ACCEPT_LANGUAGE=lang)


def _problem(response, status=422):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


def test_an_empty_object_does_not_clear_a_grids_geometry(territory, users, as_user):
    before = Area.objects.get(code=GRID).geometry
    body = _problem(_patch(as_user(users.admin), {"geometry": {}}, "en"))
    assert body["errors"][0]["field"].endswith("geometry")
    assert body["errors"][0]["message"] == "Enter a GeoJSON geometry."
    assert Area.objects.get(code=GRID).geometry == before


def test_a_square_far_from_the_parent_area_is_refused(territory, users, as_user):
    admin = as_user(users.admin)
    before = Area.objects.get(code=GRID).geometry
    body = _problem(_patch(admin, {"geometry": polygon_json(0, 0, 0.001, 0.001)}))
    assert "北站第1街区" in body["errors"][0]["message"]  # zh-hans by default, naming the parent
    assert "坐标" in body["errors"][0]["message"]
    body = _problem(_patch(admin, {"geometry": polygon_json(0, 0, 0.001, 0.001)}, "en"))
    assert body["errors"][0]["message"].startswith("The geometry lies outside")
    assert Area.objects.get(code=GRID).geometry == before

    new = {"level": "grid", "code": "440309002001009", "name": "新网格", "parent_code": "44030900200101"}
    created = admin.post(
        "/api/v1/territory/areas",
        json.dumps({**new, "geometry": polygon_json(0, 0, 0.001, 0.001)}),
        content_type="application/json",
    )
    _problem(created)
    assert not Area.objects.filter(code="440309002001009").exists()

    # near the parent (within its extent, or a little over its edge) is accepted
    assert _patch(admin, {"geometry": polygon_json(114.0, 22.6, 114.005, 22.605)}).status_code == 200
    assert _patch(admin, {"geometry": polygon_json(114.019, 22.6, 114.025, 22.605)}).status_code == 200
    # null still clears
    assert _patch(admin, {"geometry": None}).status_code == 200
    assert Area.objects.get(code=GRID).geometry == ""
