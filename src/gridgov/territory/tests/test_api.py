"""The territory API: data scope per role, validation, admin-only writes, GeoJSON."""

from __future__ import annotations

import json

import pytest

from gridgov.territory import geo
from gridgov.territory.tests.conftest import GRID_BOXES, polygon_json

pytestmark = pytest.mark.django_db

BASE = "/api/v1/territory"
A_GRIDS = [c for c in GRID_BOXES if c.startswith("440309002001")]
B_GRIDS = [c for c in GRID_BOXES if c.startswith("440309002002")]
POINT_A = (114.005, 22.605)  # in grid 440309002001001
POINT_A2 = (114.015, 22.605)  # in grid 440309002001002
POINT_B = (114.025, 22.605)  # in grid 440309002002001


def codes(response) -> list[str]:
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [x["code"] for x in items]


def get_all(client, url: str, **params) -> list[str]:
    return codes(client.get(url, {"page_size": 1000, **params}))


def assert_problem(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if field:
        assert field in [e["field"] for e in body["errors"]], body


# --- data scope -----------------------------------------------------------------------------------
def test_community_staff_sees_own_community_only(territory, users, as_user):
    c = as_user(users.staff_a)
    listed = get_all(c, f"{BASE}/areas")
    assert listed == ["440309002001", "44030900200101", *A_GRIDS]
    assert not any(code.startswith("440309002002") for code in listed)
    assert "440309" not in listed and "440309002" not in listed  # the areas above are not visible

    for other in ("440309002002", "44030900200201", "440309002002001", "440309", "440309002"):
        assert_problem(c.get(f"{BASE}/areas/{other}"), 404)
        assert_problem(c.get(f"{BASE}/areas/{other}/children"), 404)
    assert c.get(f"{BASE}/areas/440309002001").json()["geometry"]["type"] == "Polygon"
    assert codes(c.get(f"{BASE}/areas/440309002001/children")) == ["44030900200101"]
    assert codes(c.get(f"{BASE}/areas/44030900200101/children")) == A_GRIDS

    buildings = get_all(c, f"{BASE}/buildings")
    assert len(buildings) == 6 and all(b.startswith("440309002001") for b in buildings)
    b_building = next(code for code in territory.buildings if code.startswith("440309002002"))
    assert_problem(c.get(f"{BASE}/buildings/{b_building}"), 404)
    assert_problem(c.get(f"{BASE}/buildings/{b_building}/houses"), 404)
    assert get_all(c, f"{BASE}/buildings", grid="440309002002001") == []
    assert get_all(c, f"{BASE}/buildings", q=b_building) == []

    assert c.get(f"{BASE}/locate", {"lng": POINT_A[0], "lat": POINT_A[1]}).status_code == 200
    assert_problem(c.get(f"{BASE}/locate", {"lng": POINT_B[0], "lat": POINT_B[1]}), 404)
    geojson = c.get(f"{BASE}/geojson", {"level": "grid"}).json()
    assert [f["id"] for f in geojson["features"]] == A_GRIDS
    assert c.get(f"{BASE}/geojson", {"level": "grid", "parent": "440309002002"}).json()["features"] == []
    assert get_all(c, f"{BASE}/areas", parent="440309002002") == []
    assert get_all(c, f"{BASE}/areas", q="民乐") == []


def test_other_community_staff_is_the_mirror_image(territory, users, as_user):
    c = as_user(users.staff_b)
    assert get_all(c, f"{BASE}/areas", level="grid") == B_GRIDS
    assert_problem(c.get(f"{BASE}/areas/440309002001"), 404)
    assert_problem(c.get(f"{BASE}/locate", {"lng": POINT_A[0], "lat": POINT_A[1]}), 404)
    assert (
        c.get(f"{BASE}/locate", {"lng": POINT_B[0], "lat": POINT_B[1]}).json()["grid"]["code"] == B_GRIDS[0]
    )


def test_grid_worker_sees_own_grid_only(territory, users, as_user):
    c = as_user(users.grid_worker)
    assert get_all(c, f"{BASE}/areas") == ["440309002001001"]
    assert codes(c.get(f"{BASE}/areas/mine")) == ["440309002001001"]
    assert_problem(c.get(f"{BASE}/areas/440309002001"), 404)  # the community above is not visible
    assert_problem(c.get(f"{BASE}/areas/440309002001002"), 404)  # nor the neighbouring grid
    buildings = get_all(c, f"{BASE}/buildings")
    assert len(buildings) == 2
    houses = c.get(f"{BASE}/buildings/{buildings[0]}/houses").json()
    assert houses["count"] == 4
    assert_problem(c.get(f"{BASE}/locate", {"lng": POINT_A2[0], "lat": POINT_A2[1]}), 404)
    found = c.get(f"{BASE}/locate", {"lng": POINT_A[0], "lat": POINT_A[1]}).json()
    assert found["grid"]["code"] == "440309002001001"
    assert found["community"] == {"code": "440309002001", "name": "北站社区"}
    assert found["subdistrict"] == {"code": "440309002", "name": "民治街道"}


def test_department_sees_the_district(territory, users, as_user):
    c = as_user(users.department)
    listed = get_all(c, f"{BASE}/areas")
    assert len(listed) == 1 + 1 + 2 + 2 + len(GRID_BOXES)
    assert codes(c.get(f"{BASE}/areas/mine")) == ["440309"]
    assert len(get_all(c, f"{BASE}/buildings")) == 10
    assert c.get(f"{BASE}/locate", {"lng": POINT_B[0], "lat": POINT_B[1]}).status_code == 200
    assert c.get(f"{BASE}/areas/440309").json()["households"] == territory.district.households


def test_resident_sees_nothing(territory, users, as_user):
    c = as_user(users.resident)
    assert c.get(f"{BASE}/areas").json() == {"items": [], "count": 0}
    assert c.get(f"{BASE}/areas/mine").json() == []
    assert c.get(f"{BASE}/buildings").json() == {"items": [], "count": 0}
    assert c.get(f"{BASE}/geojson").json() == {"type": "FeatureCollection", "features": []}
    assert_problem(c.get(f"{BASE}/areas/440309002001001"), 404)
    assert_problem(c.get(f"{BASE}/locate", {"lng": POINT_A[0], "lat": POINT_A[1]}), 404)
    some_building = next(iter(territory.buildings))
    assert_problem(c.get(f"{BASE}/buildings/{some_building}"), 404)


def test_admin_sees_everything(territory, users, as_user):
    c = as_user(users.admin)
    assert len(get_all(c, f"{BASE}/areas")) == 11
    assert get_all(c, f"{BASE}/areas", level="community") == ["440309002001", "440309002002"]
    assert get_all(c, f"{BASE}/areas", parent="440309002") == ["440309002001", "440309002002"]
    assert get_all(c, f"{BASE}/areas", q="民乐") == ["440309002002", "44030900200201"]
    assert get_all(c, f"{BASE}/areas", q="44030900200100") == [
        "440309002001001",
        "440309002001002",
        "440309002001003",
    ]


def test_not_logged_in_is_401(territory, client):
    assert_problem(client.get(f"{BASE}/areas"), 401)
    assert_problem(client.get(f"{BASE}/locate", {"lng": 114.0, "lat": 22.6}), 401)


def test_pagination(territory, users, as_user):
    c = as_user(users.admin)
    page = c.get(f"{BASE}/areas", {"page_size": 4}).json()
    assert page["count"] == 11 and len(page["items"]) == 4
    last = c.get(f"{BASE}/areas", {"page_size": 4, "page": 3}).json()
    assert len(last["items"]) == 3
    assert_problem(c.get(f"{BASE}/areas", {"page": 0}), 422, "query.page")


# --- locate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_locate_in_every_crs(territory, users, as_user, crs):
    c = as_user(users.staff_a)
    lng, lat = geo.from_wgs84(*POINT_A2, crs)
    body = c.get(f"{BASE}/locate", {"lng": lng, "lat": lat, "crs": crs}).json()
    assert body["grid"]["code"] == "440309002001002"
    assert body["block"]["code"] == "44030900200101"
    assert body["point"]["crs"] == "wgs84"
    assert body["point"]["lng"] == pytest.approx(POINT_A2[0], abs=1e-9)
    assert body["point"]["lat"] == pytest.approx(POINT_A2[1], abs=1e-9)
    assert body["input"] == {"lng": lng, "lat": lat, "crs": crs}


def test_locate_outside_every_grid_is_404(territory, users, as_user):
    c = as_user(users.admin)
    assert_problem(c.get(f"{BASE}/locate", {"lng": 116.4, "lat": 39.9}), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lng": 181, "lat": 22.6}, "query.lng"),
        ({"lng": -180.5, "lat": 22.6}, "query.lng"),
        ({"lng": 114, "lat": 90.1}, "query.lat"),
        ({"lng": 114, "lat": -91}, "query.lat"),
        ({"lng": "east", "lat": 22.6}, "query.lng"),
        ({"lat": 22.6}, "query.lng"),
        ({"lng": 114}, "query.lat"),
        ({"lng": 114, "lat": 22.6, "crs": "epsg4326"}, "query.crs"),
        ({"lng": "nan", "lat": 22.6}, "query.lng"),
    ],
)
def test_locate_validation(territory, users, as_user, params, field):
    c = as_user(users.admin)
    assert_problem(c.get(f"{BASE}/locate", params), 422, field)


def test_bad_filters_are_422(territory, users, as_user):
    c = as_user(users.admin)
    assert_problem(c.get(f"{BASE}/areas", {"level": "city"}), 422, "query.level")
    assert_problem(c.get(f"{BASE}/geojson", {"level": "street"}), 422, "query.level")
    building = next(iter(territory.buildings))
    assert_problem(c.get(f"{BASE}/buildings/{building}/houses", {"use": "hotel"}), 422, "query.use")


# --- GeoJSON --------------------------------------------------------------------------------------
def test_geojson_nesting_and_properties(territory, users, as_user):
    c = as_user(users.admin)
    fc = c.get(f"{BASE}/geojson", {"level": "grid", "parent": "440309002001"}).json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == A_GRIDS
    for feature in fc["features"]:
        props = feature["properties"]
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "Polygon"
        assert set(props) == {"code", "name", "level", "households", "parent_code"}
        assert props["level"] == "grid" and props["parent_code"] == "44030900200101"
        assert props["households"] == 12
    communities = c.get(f"{BASE}/geojson", {"level": "community"}).json()["features"]
    assert [f["properties"]["parent_code"] for f in communities] == ["440309002", "440309002"]
    assert sum(f["properties"]["households"] for f in communities) == territory.district.households
    by_block = c.get(f"{BASE}/geojson", {"level": "grid", "parent": "44030900200201"}).json()["features"]
    assert [f["id"] for f in by_block] == B_GRIDS
    assert c.get(f"{BASE}/geojson", {"level": "grid", "parent": "999999"}).json()["features"] == []


def test_area_detail_and_building_detail_shapes(territory, users, as_user):
    c = as_user(users.staff_a)
    area = c.get(f"{BASE}/areas/440309002001001").json()
    assert area["bbox"] == [114.0, 22.6, 114.01, 22.61]
    assert area["parent_code"] == "44030900200101"
    assert area["path"] == "440309/440309002/440309002001/44030900200101/440309002001001/"
    building_code = next(code for code in territory.buildings if code.startswith("440309002001"))
    building = c.get(f"{BASE}/buildings/{building_code}").json()
    assert building["grid_code"] == "440309002001001"
    houses = c.get(f"{BASE}/buildings/{building_code}/houses", {"use": "rented"}).json()
    assert houses["count"] == 2 and {h["use"] for h in houses["items"]} == {"rented"}


# --- admin-only writes ----------------------------------------------------------------------------
NEW_GRID = {
    "level": "grid",
    "code": "440309002002003",
    "name": "民乐第三网格",
    "parent_code": "44030900200201",
    "geometry": polygon_json(114.04, 22.60, 114.05, 22.61),
}


@pytest.mark.parametrize("who", ["staff_a", "grid_worker", "department", "resident"])
def test_writes_are_admin_only(territory, users, as_user, who):
    c = as_user(getattr(users, who))
    assert_problem(c.post(f"{BASE}/areas", data=json.dumps(NEW_GRID), content_type="application/json"), 403)
    r = c.patch(
        f"{BASE}/areas/440309002001001", data=json.dumps({"name": "x"}), content_type="application/json"
    )
    assert_problem(r, 403)


def test_admin_creates_and_patches_a_grid(territory, users, as_user):
    c = as_user(users.admin)
    r = c.post(f"{BASE}/areas", data=json.dumps(NEW_GRID), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["bbox"] == [114.04, 22.6, 114.05, 22.61]
    found = c.get(f"{BASE}/locate", {"lng": 114.045, "lat": 22.605}).json()
    assert found["grid"]["code"] == "440309002002003"

    r = c.patch(
        f"{BASE}/areas/440309002002003",
        data=json.dumps({"name": "民乐新网格", "external_code": "A7"}),
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["name"] == "民乐新网格" and r.json()["external_code"] == "A7"
    r = c.patch(
        f"{BASE}/areas/440309002002003",
        data=json.dumps({"is_active": False}),
        content_type="application/json",
    )
    assert r.json()["is_active"] is False
    assert_problem(c.get(f"{BASE}/locate", {"lng": 114.045, "lat": 22.605}), 404)
    assert "440309002002003" not in get_all(c, f"{BASE}/areas", level="grid")
    assert "440309002002003" in get_all(c, f"{BASE}/areas", level="grid", active="false")


def test_admin_write_validation(territory, users, as_user):
    c = as_user(users.admin)

    def post(**changes):
        return c.post(
            f"{BASE}/areas", data=json.dumps({**NEW_GRID, **changes}), content_type="application/json"
        )

    assert_problem(post(level="town"), 422, "body.level")
    assert_problem(post(code="12345"), 422, "code")
    assert_problem(post(code="440309002001009"), 422, "code")  # another community's number
    assert_problem(post(code="440309002002001"), 422, "code")  # taken
    assert_problem(post(parent_code="440309002002"), 422, "parent_code")  # a grid goes under a block
    assert_problem(post(parent_code="nope"), 422, "parent_code")
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[114.04, 22.6], [114.05, 22.61], [114.05, 22.6], [114.04, 22.61], [114.04, 22.6]]],
    }
    assert_problem(post(geometry=bowtie), 422, "geometry")
    assert_problem(post(geometry={"type": "Point", "coordinates": [114.04, 22.6]}), 422, "geometry")
    r = c.patch(
        f"{BASE}/areas/440309002001001",
        data=json.dumps({"geometry": bowtie}),
        content_type="application/json",
    )
    assert_problem(r, 422, "geometry")
    r = c.patch(f"{BASE}/areas/404404404", data=json.dumps({"name": "x"}), content_type="application/json")
    assert_problem(r, 404)


def test_hostile_input_is_refused_not_a_server_error(territory, users, as_user):
    c = as_user(users.admin)
    assert_problem(c.get(f"{BASE}/areas", {"q": "民\x00乐"}), 422, "query.q")
    assert_problem(c.get(f"{BASE}/geojson", {"parent": "4403\x0009"}), 422, "query.parent")
    assert_problem(c.get(f"{BASE}/buildings", {"grid": "' OR 1=1 --"}), 422, "query.grid")
    assert_problem(c.get(f"{BASE}/areas/4403%0009"), 422, "path.area_code")
    assert_problem(c.get(f"{BASE}/areas", {"page": 10**22}), 422, "query.page")
    assert c.get(f"{BASE}/areas", {"page": 10**6}).json()["items"] == []
    r = c.patch(
        f"{BASE}/areas/440309002001", data=json.dumps({"name": "a\x00b"}), content_type="application/json"
    )
    assert_problem(r, 422, "body.name")
    r = c.post(
        f"{BASE}/areas",
        data=json.dumps({**NEW_GRID, "external_code": "\x00"}),
        content_type="application/json",
    )
    assert_problem(r, 422, "body.external_code")
