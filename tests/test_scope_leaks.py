"""No endpoint shows one community's data to a user of another community.

The endpoints come from the OpenAPI document, not from a hand-made list: a new endpoint is covered the
moment it exists (and a new path parameter must be given a value below, or this test fails)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import shapely
from django.test import Client

from gridgov.accounts.models import ApiToken, Membership, Organisation, User
from gridgov.accounts.services import hash_token
from gridgov.cases.models import Case, Category, WhistleItem
from gridgov.core import notifications
from gridgov.registry.tests.samples import registry_values
from gridgov.territory.models import Area, Building, House
from tests.conftest import login_of

pytestmark = pytest.mark.django_db

VIEWER_ROLES = ["community_staff", "block_chief", "grid_worker", "building_head", "party_member"]
SKIP_PATHS = {"/api/openapi.json", "/api/docs"}


def _communities():
    communities = list(Area.objects.filter(level="community").order_by("code"))
    assert len(communities) >= 2
    return communities[0], communities[1]


def _other_values(other: Area) -> dict[str, list]:
    """Values of another community's objects for every path parameter name the API uses."""
    grid = Area.objects.filter(level="grid", path__startswith=other.path).order_by("code").first()
    block = Area.objects.filter(level="block", path__startswith=other.path).order_by("code").first()
    building = Building.objects.filter(grid__path__startswith=other.path).order_by("code").first()
    house = House.objects.filter(building=building).order_by("id").first()
    member = Membership.objects.filter(area__path__startswith=other.path).select_related("user").first()
    orgs = list(Organisation.objects.filter(area=other).order_by("code"))
    token = ApiToken.objects.create(
        user=member.user, name="other", prefix="gg_other", token_hash=hash_token("x-other")
    )
    case = _case_in(other)
    return {
        "area_code": [other.code, block.code, grid.code],
        "building_code": [building.code],
        "house_id": [house.id],
        "user_id": [member.user_id],
        "membership_id": [member.id],
        "organisation_code": [o.code for o in orgs],
        "token_id": [token.id],
        "case_id": [case.id],
        "notification_id": [
            notifications.notify(
                [member.user],
                "deadline_red",
                {"level": "red", "deadline": "resolution", "step_id": None, "number": case.number, "due": ""},
                case,
            )[0].pk
        ],
        "attachment_id": [_photo_of(case)],
        "action": ["accept", "whistle", "reject", "supervise"],
        "category_code": [Category.objects.order_by("code").values_list("code", flat=True).first()],
        "whistle_item_id": [WhistleItem.objects.order_by("id").values_list("id", flat=True).first()],
        **registry_values(other),
        "proposal_id": [_proposal_in(other)],
        "layer_id": [_department_layer(other)],
    }


def _text_of(response) -> str:
    """The text a response carries: JSON/HTML as is, the cells of an Excel workbook, nothing of a photo."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    ctype = response.get("Content-Type", "")
    if "spreadsheetml" in ctype:
        import io

        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return "\n".join(
            str(v)
            for ws in book.worksheets
            for row in ws.iter_rows(values_only=True)
            for v in row
            if v is not None
        )
    if ctype.startswith("image/"):
        return ""
    return body.decode()


def _proposal_in(community: Area) -> int:
    """A re-division proposal for another community, made by an administrator."""
    from gridgov.territory.redivision import propose

    admin = User.objects.filter(memberships__role="admin").first()
    return propose(actor=admin, area_code=community.code).pk


def _department_layer(community: Area) -> int:
    """A department layer covering another community (layers are district-wide; their overlay is not)."""
    from gridgov.territory.models import DepartmentGrid, DepartmentLayer

    layer = DepartmentLayer.objects.create(name="城管网格", source_crs="wgs84")
    minx, miny, maxx, maxy = shapely.from_geojson(community.geometry).bounds
    DepartmentGrid.objects.create(
        layer=layer,
        code="CG-X1",
        geometry=shapely.to_geojson(shapely.box(minx, miny, maxx, maxy)),
        min_lng=minx,
        min_lat=miny,
        max_lng=maxx,
        max_lat=maxy,
    )
    return layer.pk


OTHER_CASE_TEXT = "另一社区的诉求：楼道堆放杂物堵塞消防通道"


def _case_in(community: Area):
    """A case reported at the window of another community, by that community's staff."""
    from gridgov.cases.services import intake

    staff = User.objects.filter(memberships__role="community_staff", memberships__area=community).first()
    grid = Area.objects.filter(level="grid", path__startswith=community.path).order_by("code").first()
    point = shapely.from_geojson(grid.geometry).representative_point()
    case, _ = intake(
        actor=staff,
        description=OTHER_CASE_TEXT,
        channel="window",
        reporter_name="李四",
        reporter_phone="13800138000",
        lng=point.x,
        lat=point.y,
    )
    return case


def _photo_of(case) -> str:
    """A photo uploaded by the case's creator and tied to the case."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from gridgov.cases import services, workflow

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(buffer, format="PNG")
    photo = services.upload_attachment(
        actor=case.created_by, file=SimpleUploadedFile("p.png", buffer.getvalue(), content_type="image/png")
    )
    workflow.claim_attachments(case, case.created_by, [photo.id])
    return photo.id


def _query_values(other: Area) -> dict[str, list]:
    grid = Area.objects.filter(level="grid", path__startswith=other.path).order_by("code").first()
    point = shapely.from_geojson(grid.geometry).representative_point()
    building = Building.objects.filter(grid=grid).first()
    return {
        "parent": [other.code, grid.code],
        "parent_code": [other.code],
        "area": [other.code],
        "area_code": [other.code],
        "community": [other.code],
        "grid": [grid.code],
        "grid_code": [grid.code],
        "building": [building.code],
        "building_code": [building.code],
        "q": [other.name, other.code],
        "lng": [point.x],
        "lat": [point.y],
        "crs": ["wgs84"],
        "level": ["grid"],
        "date_from": [(dt.date.today() - dt.timedelta(days=365)).isoformat()],
        "date_to": [dt.date.today().isoformat()],
    }


def _markers(other: Area) -> list[str]:
    names = [other.code, other.name, OTHER_CASE_TEXT]
    names += list(Case.objects.filter(area__path__startswith=other.path).values_list("number", flat=True))
    names += list(
        User.objects.filter(memberships__area__path__startswith=other.path).values_list("username", flat=True)
    )
    return names


def _operations(client: Client):
    spec = client.get("/api/openapi.json").json()
    for path, item in spec["paths"].items():
        if path in SKIP_PATHS:
            continue
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = op.get("parameters", [])
            yield (
                path,
                method,
                [p["name"] for p in params if p["in"] == "path"],
                [p["name"] for p in params if p["in"] == "query"],
            )


def _fill(path: str, names: list[str], values: dict[str, list], index: int) -> str:
    for name in names:
        assert name in values, f"path parameter {name!r} of {path} has no value in tests/test_scope_leaks.py"
        options = values[name]
        path = path.replace("{" + name + "}", str(options[index % len(options)]))
    return path


@pytest.mark.parametrize("role", VIEWER_ROLES)
def test_no_endpoint_returns_another_communitys_data(demo, role):
    own, other = _communities()
    login = login_of(demo, role, area_prefix=own.code)
    client = Client()
    response = client.post(
        "/api/v1/auth/login",
        {"username": login["username"], "password": login["password"]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    csrf = client.get("/api/v1/auth/csrf").json()["csrf_token"]

    values, query_values, markers = _other_values(other), _query_values(other), _markers(other)
    marker_re = re.compile("|".join(re.escape(m) for m in markers))
    checked = 0
    for path, method, path_params, query_params in _operations(client):
        if method != "get" and not path_params:
            continue  # writes without an object of the other community to aim at
        if path.endswith("/auth/logout") or path.endswith("/auth/login"):
            continue
        rounds = max([len(values.get(n, [None])) for n in path_params] + [1])
        for i in range(rounds):
            url = _fill(path, path_params, values, i)
            query = {n: query_values[n][i % len(query_values[n])] for n in query_params if n in query_values}
            for params in ({}, query) if query else ({},):
                if method == "get":
                    r = client.get(url, params)
                else:
                    r = getattr(client, method)(
                        url, data=json.dumps({}), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
                    )
                checked += 1
                where = f"{role} {method.upper()} {url} {params}"
                assert r.status_code < 500, where
                if method != "get":
                    assert r.status_code in (401, 403, 404, 405, 422), f"{where} → {r.status_code}"
                    continue
                assert r.status_code in (200, 403, 404, 422), f"{where} → {r.status_code}"
                text = _text_of(r)
                found = marker_re.search(text)
                assert found is None, f"{where} leaked {found.group(0)!r}"
    assert checked >= 10
