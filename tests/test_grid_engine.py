"""The grid engine on the demo district: health, re-division proposal → adoption (codes, buildings,
memberships, open cases, history, audit), and 多网合一 layers with their overlay and Excel export."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import openpyxl
import pytest
import shapefile
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client

from gridgov.accounts.models import AuditEvent, Membership, User
from gridgov.cases.models import OPEN_STATUSES, Case, TimelineEvent
from gridgov.territory import geo, locator, multinet
from gridgov.territory.models import Area, AreaVersion, Building, DepartmentGrid, DepartmentLayer
from tests.conftest import login_of

pytestmark = pytest.mark.django_db

COMMUNITY = "440309002001"


@pytest.fixture(autouse=True)
def fresh_locator():
    """An adoption rebuilds the process-wide locator inside the test's transaction, which is then rolled
    back together with the grid revision: start and end every test with no index."""
    locator.get_locator().reset()
    yield
    locator.get_locator().reset()


def _client(demo, role, **kw) -> tuple[Client, User]:
    user = User.objects.get(username=login_of(demo, role, **kw)["username"])
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    return client, user


# --- health ------------------------------------------------------------------------------------------------
def test_health_lists_what_is_out_of_bounds_in_the_users_scope(demo):
    grid = (
        Area.objects.filter(level="grid", code__startswith=COMMUNITY, is_active=True).order_by("code").first()
    )
    other = Area.objects.filter(level="grid", is_active=True).exclude(code__startswith=COMMUNITY).first()
    Area.objects.filter(pk=grid.pk).update(households=250)
    Area.objects.filter(pk=other.pk).update(households=620)
    admin, _ = _client(demo, "admin")
    body = admin.get("/api/v1/territory/health").json()
    assert body["grid_bounds"] == [300, 500] and body["community_bounds"] == [2400, 3600]
    rows = {r["code"]: r["status"] for r in body["grids"]}
    assert rows == {grid.code: "below", other.code: "above"}
    (summary,) = body["by_subdistrict"]
    assert summary["grids_below"] == 1 and summary["grids_above"] == 1
    assert summary["grids"] == Area.objects.filter(level="grid", is_active=True).count()

    staff, _ = _client(demo, "community_staff", area_prefix=COMMUNITY)
    mine = staff.get("/api/v1/territory/health").json()
    assert [r["code"] for r in mine["grids"]] == [grid.code]  # the other community's grid is not theirs
    layer = staff.get("/api/v1/territory/health/geojson").json()["features"]
    assert {f["properties"]["code"][:12] for f in layer} == {COMMUNITY}
    resident, _ = _client(demo, "resident")
    assert resident.get("/api/v1/territory/health").json()["grids"] == []


# --- re-division ------------------------------------------------------------------------------------------
def _open_case_in(grid: Area) -> Case:
    case = Case.objects.filter(grid=grid, status__in=OPEN_STATUSES).first()
    assert case is not None
    return case


def test_a_proposal_is_reviewed_then_adopted(demo):
    staff, staff_user = _client(demo, "community_staff", area_prefix=COMMUNITY)
    before_grids = {
        g.code: g for g in Area.objects.filter(level="grid", code__startswith=COMMUNITY, is_active=True)
    }
    households = Area.objects.get(code=COMMUNITY).households
    r = staff.post("/api/v1/territory/proposals", {"area_code": COMMUNITY}, content_type="application/json")
    assert r.status_code == 201, r.content
    proposal = r.json()
    assert proposal["status"] == "draft" and proposal["group_level"] == "block"
    # the author by name, not by username (issue 13, finding 12)
    assert staff_user.display_name and proposal["created_by_name"] == staff_user.display_name
    assert sum(g["households"] for g in proposal["grids"]) == households
    assert len(proposal["before"]) == len(before_grids)
    assert proposal["relaxed"] == []  # every block splits on buildings up to 120 m apart
    layers = staff.get(f"/api/v1/territory/proposals/{proposal['id']}/geojson").json()["features"]
    assert {f["properties"]["layer"] for f in layers} == {"proposed", "current"}
    # Only administrators adopt; community staff of another community do not even see it.
    assert staff.post(f"/api/v1/territory/proposals/{proposal['id']}/adopt").status_code == 403
    other, _ = _client(demo, "community_staff", not_area_prefix=COMMUNITY)
    assert other.get(f"/api/v1/territory/proposals/{proposal['id']}").status_code == 404

    open_cases = list(Case.objects.filter(grid__code__startswith=COMMUNITY, status__in=OPEN_STATUSES))
    versions = {c.pk: c.version for c in open_cases}
    workers = {
        m.pk: m.area.code
        for m in Membership.objects.filter(area__in=before_grids.values()).select_related("area")
    }
    admin, admin_user = _client(demo, "admin")
    audit_before = AuditEvent.objects.count()
    r = admin.post(f"/api/v1/territory/proposals/{proposal['id']}/adopt")
    assert r.status_code == 200, r.content
    summary = r.json()
    assert summary["grids_after"] == len(proposal["grids"])
    assert summary["codes_kept"] == sum(1 for g in proposal["grids"] if g["code"])

    active = list(Area.objects.filter(level="grid", code__startswith=COMMUNITY, is_active=True))
    assert len(active) == len(proposal["grids"])
    # every building of the community is in exactly one active grid, and the counts add up
    assert not Building.objects.filter(grid__code__startswith=COMMUNITY, grid__is_active=False).exists()
    for g in active:
        total = Building.objects.filter(grid=g).aggregate(n=Sum("households"))["n"] or 0
        assert g.households == total, g.code
    assert Area.objects.get(code=COMMUNITY).households == households
    # what each old grid was is kept; retired grids are archived, not deleted
    assert AreaVersion.objects.filter(proposal_id=proposal["id"]).count() == len(before_grids)
    retired = set(before_grids) - {g.code for g in active}
    assert set(Area.objects.filter(code__in=retired).values_list("is_active", flat=True)) <= {False}
    # staff of retired grids moved to active grids of the same community
    for pk, code in workers.items():
        m = Membership.objects.select_related("area").get(pk=pk)
        assert m.area.is_active and m.area.code.startswith(COMMUNITY)
        if code in retired:
            assert m.area.code != code
    # open cases follow their point; each move is on the case's timeline with a new version
    for case in open_cases:
        case.refresh_from_db()
        assert case.grid.is_active
        if case.lng is not None:
            point = shapely.Point(case.lng, case.lat)
            inside = [g for g in active if shapely.from_geojson(g.geometry).buffer(1e-9).contains(point)]
            # a point in a new grid is in the case's grid; one outside them all (a report placed by
            # its area at intake) stays on the old grid's successor
            assert case.grid in inside if inside else case.grid.code.startswith(COMMUNITY)
        moved = TimelineEvent.objects.filter(case=case, action="regrid").first()
        if moved is not None:
            assert case.version == versions[case.pk] + 1 and moved.data["to"] == case.grid.code
    assert AuditEvent.objects.count() > audit_before
    # the locator answers with the new grids
    b = Building.objects.filter(grid__code__startswith=COMMUNITY).first()
    assert locator.locate(b.lng, b.lat).code == b.grid.code
    # decided once
    assert admin.post(f"/api/v1/territory/proposals/{proposal['id']}/adopt").status_code == 409


def test_an_oversize_building_is_named_by_its_code(demo):
    big = Building.objects.filter(grid__code__startswith=COMMUNITY).order_by("code").first()
    Building.objects.filter(pk=big.pk).update(households=620)
    staff, _ = _client(demo, "community_staff", area_prefix=COMMUNITY)
    r = staff.post("/api/v1/territory/proposals", {"area_code": COMMUNITY}, content_type="application/json")
    assert r.status_code == 201, r.content
    (oversize,) = r.json()["oversize"]
    assert (oversize["building"], oversize["building_code"], oversize["households"]) == (
        big.pk,
        big.code,
        620,
    )
    grid = next(g for g in r.json()["grids"] if g["key"] == oversize["grid"])
    assert grid["buildings"] == [big.pk] and grid["households"] == 620


def test_a_stale_proposal_is_refused_and_a_draft_can_be_discarded(demo):
    admin, _ = _client(demo, "admin")
    block = Area.objects.filter(level="block", is_active=True).exclude(code__startswith=COMMUNITY).first()
    first = admin.post(
        "/api/v1/territory/proposals", {"area_code": block.code}, content_type="application/json"
    )
    second = admin.post(
        "/api/v1/territory/proposals", {"area_code": block.code}, content_type="application/json"
    )
    assert first.status_code == second.status_code == 201
    # someone moves a building to another grid of the block: the first proposal is stale
    grids = list(Area.objects.filter(parent=block, level="grid", is_active=True).order_by("code")[:2])
    b = Building.objects.filter(grid=grids[0]).first()
    Building.objects.filter(pk=b.pk).update(grid=grids[1])
    active = set(
        Area.objects.filter(parent=block, level="grid", is_active=True).values_list("code", flat=True)
    )
    r = admin.post(f"/api/v1/territory/proposals/{first.json()['id']}/adopt")
    assert r.status_code == 409
    assert (
        set(Area.objects.filter(parent=block, level="grid", is_active=True).values_list("code", flat=True))
        == active
    )
    r = admin.post(f"/api/v1/territory/proposals/{second.json()['id']}/discard")
    assert r.status_code == 200 and r.json()["status"] == "discarded"
    assert admin.post(f"/api/v1/territory/proposals/{second.json()['id']}/adopt").status_code == 409


def test_a_pii_grant_on_a_redrawn_grid_follows_its_buildings(demo):
    """A grant names an area; when its grid is retired by a re-division the grant follows the grid's
    buildings to the new grids (audited), so the holder still sees their residents unmasked."""
    from gridgov.accounts.models import Membership
    from gridgov.accounts.roles import Role
    from gridgov.registry import services as registry_services
    from gridgov.registry.models import PiiGrant, Resident
    from gridgov.territory.models import GridProposal

    admin, _ = _client(demo, "admin")
    block = next(
        b
        for b in Area.objects.filter(level="block", code__startswith=COMMUNITY, is_active=True).order_by(
            "code"
        )
        if Area.objects.filter(parent=b, level="grid", is_active=True).count() >= 2
    )
    r = admin.post("/api/v1/territory/proposals", {"area_code": block.code}, content_type="application/json")
    assert r.status_code == 201, r.content
    proposal = GridProposal.objects.get(pk=r.json()["id"])
    # The grid that keeps its code in the proposal gets a new code instead: the old grid is retired.
    entry = next(g for g in proposal.result["grids"] if g["code"])
    grid = Area.objects.get(code=entry["code"])
    entry["code"] = ""
    proposal.save(update_fields=["result"])
    residents = list(Resident.objects.filter(building__grid=grid).order_by("pk")[:50])
    assert residents

    staff, staff_user = _client(demo, "community_staff", area_prefix=COMMUNITY)
    security = User.objects.create(username="security-regrid")
    Membership.objects.create(user=security, role=Role.SECURITY_ADMIN)
    grant = registry_services.grant_pii(
        actor=security, user_id=staff_user.pk, field="id_number", area_code=grid.code, reason="低保复核"
    )

    def id_number(resident):
        r = staff.get(f"/api/v1/registry/residents/{resident.pk}", {"reveal": "true", "purpose": "核对"})
        assert r.status_code == 200, r.content
        return r.json()["id_number"]

    plain = {res.pk: id_number(res) for res in residents}
    assert all(v and "*" not in v for v in plain.values())

    audit_before = AuditEvent.objects.filter(object_type="pii_grant").count()
    r = admin.post(f"/api/v1/territory/proposals/{proposal.pk}/adopt")
    assert r.status_code == 200, r.content
    assert set(r.json()) == {
        "grids_before", "grids_after", "codes_kept", "grids_archived", "grids_created",
        "memberships_moved", "cases_moved",
    }  # fmt: skip
    assert not Area.objects.get(pk=grid.pk).is_active
    # every resident of the retired grid's buildings: still unmasked, wherever the building went
    for res in residents:
        res.refresh_from_db()
        assert res.building.grid_id != grid.pk
        assert id_number(res) == plain[res.pk], res.building.grid.code
    grant.refresh_from_db()
    assert grant.area.is_active and grant.revoked_at is None
    new_areas = set(
        PiiGrant.objects.filter(user=staff_user, revoked_at__isnull=True).values_list("area_id", flat=True)
    )
    assert {res.building.grid_id for res in residents} <= new_areas
    assert AuditEvent.objects.filter(object_type="pii_grant").count() - audit_before == len(new_areas)
    # a resident of a grid the old one gave nothing to stays masked
    other = (
        Resident.objects.filter(building__grid__code__startswith=COMMUNITY)
        .exclude(building__grid_id__in=new_areas)
        .first()
    )
    assert other is not None and "*" in id_number(other)


def test_propose_needs_a_level_with_grids_below(demo):
    admin, _ = _client(demo, "admin")
    grid = Area.objects.filter(level="grid", is_active=True).first()
    r = admin.post("/api/v1/territory/proposals", {"area_code": grid.code}, content_type="application/json")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "area_code"
    resident, _ = _client(demo, "resident")
    r = resident.post(
        "/api/v1/territory/proposals", {"area_code": COMMUNITY}, content_type="application/json"
    )
    assert r.status_code == 403


# --- 多网合一 ----------------------------------------------------------------------------------------------
def _community_polygon():
    return shapely.from_geojson(Area.objects.get(code=COMMUNITY).geometry)


def _halves():
    """The community cut in a west and an east half, the east one 30 % short of the community's east
    edge (a gap)."""
    poly = _community_polygon()
    minx, miny, maxx, maxy = poly.bounds
    mid = (minx + maxx) / 2
    west = shapely.box(minx - 0.01, miny - 0.01, mid, maxy + 0.01).intersection(poly)
    east = shapely.box(mid, miny - 0.01, maxx - (maxx - mid) * 0.3, maxy + 0.01).intersection(poly)
    return west, east


def _geojson_layer(features) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"网格编码": code, "网格名称": name},
                    "geometry": json.loads(shapely.to_geojson(g)),
                }
                for code, name, g in features
            ],
        },
        ensure_ascii=False,
    ).encode()


def _upload(client, data: bytes, name="layer.geojson", **fields):
    return client.post(
        "/api/v1/territory/layers",
        {"file": SimpleUploadedFile(name, data), "name": "城管网格", "crs": "wgs84", **fields},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )


def test_a_department_layer_is_laid_over_the_unified_grids(demo):
    west, east = _halves()
    admin, _ = _client(demo, "admin")
    r = _upload(admin, _geojson_layer([("CG-01", "城管一格", west), ("CG-02", "城管二格", east)]))
    assert r.status_code == 201, r.content
    layer = r.json()
    assert layer["features"] == 2
    shapes = admin.get(f"/api/v1/territory/layers/{layer['id']}/geojson").json()["features"]
    assert [f["properties"]["code"] for f in shapes] == ["CG-01", "CG-02"]
    report = admin.get(f"/api/v1/territory/layers/{layer['id']}/overlay", {"area": COMMUNITY}).json()
    grids = {g["grid_code"]: g for g in report["grids"]}
    assert set(grids) == set(
        Area.objects.filter(level="grid", code__startswith=COMMUNITY, is_active=True).values_list(
            "code", flat=True
        )
    )
    for row in grids.values():
        assert row["main_department_code"] in ("CG-01", "CG-02")
        assert 0 <= row["covered"] <= 1
    # the grids crossed by the cut are split; the grids on the east edge have a gap
    assert report["summary"]["split"] >= 1
    assert report["summary"]["gaps"] >= 1
    assert report["summary"]["fully_in_one"] >= 1
    for pair in report["pairs"]:
        assert 0 < pair["share_of_grid"] <= 1.0001

    xlsx = admin.get(f"/api/v1/territory/layers/{layer['id']}/overlay.xlsx", {"area": COMMUNITY})
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["网格对应", "对应明细", "问题"]
    assert book["网格对应"].cell(1, 1).value == "统一网格编码"
    assert book["网格对应"].max_row == len(grids) + 1

    # community staff read the overlay of their own grids only; residents see no layers
    staff, _ = _client(demo, "community_staff", not_area_prefix=COMMUNITY)
    theirs = staff.get(f"/api/v1/territory/layers/{layer['id']}/overlay").json()
    assert all(not g["grid_code"].startswith(COMMUNITY) for g in theirs["grids"])
    resident, _ = _client(demo, "resident")
    assert resident.get(f"/api/v1/territory/layers/{layer['id']}").status_code == 404


def test_a_zipped_shapefile_in_gcj02_with_gbk_names(demo):
    west, east = _halves()
    buffers = {ext: io.BytesIO() for ext in ("shp", "shx", "dbf")}
    with shapefile.Writer(shp=buffers["shp"], shx=buffers["shx"], dbf=buffers["dbf"], encoding="gbk") as w:
        w.field("WGBM", "C", 20)
        w.field("WGMC", "C", 50)
        for code, name, g in (("ZZ-1", "综治一格", west), ("ZZ-2", "综治二格", east)):
            gcj = shapely.transform(g, lambda c: np.column_stack(geo.wgs84_to_gcj02(c[:, 0], c[:, 1])))
            w.poly([list(gcj.exterior.coords)[::-1]])
            w.record(code, name)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for ext, b in buffers.items():
            z.writestr(f"zongzhi.{ext}", b.getvalue())
    admin, _ = _client(demo, "admin")
    r = _upload(admin, archive.getvalue(), name="zongzhi.zip", crs="gcj02")
    assert r.status_code == 201, r.content
    grids = {g.code: g for g in DepartmentGrid.objects.filter(layer_id=r.json()["id"])}
    assert set(grids) == {"ZZ-1", "ZZ-2"} and grids["ZZ-1"].name == "综治一格"
    back = shapely.from_geojson(grids["ZZ-1"].geometry)
    assert back.symmetric_difference(west).area / west.area < 0.001  # converted back to WGS-84


@pytest.mark.parametrize(
    "data, fields, field",
    [
        (b"", {}, "file"),
        (b"not json at all", {}, "file"),
        (json.dumps({"type": "Point", "coordinates": [114.0, 22.6]}).encode(), {}, "file"),
        ("projected", {}, "crs"),
        (json.dumps({"type": "FeatureCollection", "features": []}).encode(), {}, "file"),
    ],
)
def test_bad_layers_are_refused_and_change_nothing(demo, data, fields, field):
    if data == "projected":  # metres of a projected system instead of degrees
        data = _geojson_layer([("A", "a", shapely.box(500000, 2500000, 501000, 2501000))])
    before = DepartmentLayer.objects.count()
    admin, _ = _client(demo, "admin")
    r = _upload(admin, data, **fields)
    assert r.status_code == 422, r.content
    assert r.json()["errors"][0]["field"] == field
    assert DepartmentLayer.objects.count() == before


def test_only_administrators_import_layers(demo):
    west, _east = _halves()
    staff, _ = _client(demo, "community_staff")
    assert _upload(staff, _geojson_layer([("X", "x", west)])).status_code == 403


def test_overlay_is_pure_and_exact_on_squares():
    a = shapely.box(114.0, 22.6, 114.01, 22.61)
    b = shapely.box(114.01, 22.6, 114.02, 22.61)
    d1 = shapely.box(114.0, 22.6, 114.015, 22.61)  # all of a, half of b
    d2 = shapely.box(114.015, 22.6, 114.0199, 22.61)  # most of the other half of b: a gap of 1 %
    report = multinet.compute_overlay([("A", "a", a), ("B", "b", b)], [("D1", "", d1), ("D2", "", d2)])
    grids = {g["grid_code"]: g for g in report["grids"]}
    assert grids["A"]["main_department_code"] == "D1" and grids["A"]["main_share"] == pytest.approx(
        1.0, abs=1e-3
    )
    assert not grids["A"]["split"] and not grids["A"]["gap"]
    assert grids["B"]["split"] and grids["B"]["covered"] == pytest.approx(0.99, abs=2e-3)
    assert grids["B"]["gap"] is False  # 99 % covered is above the 95 % gap threshold
