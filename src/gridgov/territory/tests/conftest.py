"""A small territory with square grids, buildings, houses and a cast of users (built with the helpers of
gridgov.testing; the layout is this app's own because the geometry tests pin it).

    440309 district
      440309002 subdistrict
        440309002001 community A ─ 44030900200101 block A1 ─ grids 440309002001001, …002, …003
        440309002002001 community B ─ 44030900200201 block B1 ─ grids 440309002002001, …002

Grids are 0.01° squares along lat 22.60–22.61 (…003 sits north of …001):

    lng 114.00   114.01   114.02   114.03   114.04
         | A-001  | A-002  | B-001  | B-002  |      lat 22.60 – 22.61
         | A-003  |                                 lat 22.61 – 22.62
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import shapely

from gridgov import testing
from gridgov.accounts.models import OrganisationKind
from gridgov.accounts.roles import Role
from gridgov.territory.models import Building, House
from gridgov.territory.services import grids_changed, recount_households
from gridgov.testing import make_area, make_org, make_user

GRID_BOXES = {
    "440309002001001": (114.00, 22.60, 114.01, 22.61),
    "440309002001002": (114.01, 22.60, 114.02, 22.61),
    "440309002001003": (114.00, 22.61, 114.01, 22.62),
    "440309002002001": (114.02, 22.60, 114.03, 22.61),
    "440309002002002": (114.03, 22.60, 114.04, 22.61),
}


def square(minx, miny, maxx, maxy) -> str:
    return shapely.to_geojson(shapely.box(minx, miny, maxx, maxy))


def polygon_json(minx, miny, maxx, maxy) -> dict:
    return json.loads(square(minx, miny, maxx, maxy))


@pytest.fixture(autouse=True)
def fresh_locator():
    """The locator is process-wide: start every test from nothing and re-check the revision each call."""
    with testing.fresh_locator() as loc:
        yield loc


@pytest.fixture
def territory(db):
    district = make_area(None, "district", "440309", "龙华区", (114.00, 22.60, 114.04, 22.62))
    sub = make_area(district, "subdistrict", "440309002", "民治街道", (114.00, 22.60, 114.04, 22.62))
    comm_a = make_area(sub, "community", "440309002001", "北站社区", (114.00, 22.60, 114.02, 22.62))
    comm_b = make_area(sub, "community", "440309002002", "民乐社区", (114.02, 22.60, 114.04, 22.61))
    block_a = make_area(comm_a, "block", "44030900200101", "北站第1街区", (114.00, 22.60, 114.02, 22.62))
    block_b = make_area(comm_b, "block", "44030900200201", "民乐第1街区", (114.02, 22.60, 114.04, 22.61))
    grids = {}
    for code, box in GRID_BOXES.items():
        parent = block_a if code.startswith(comm_a.code) else block_b
        grids[code] = make_area(parent, "grid", code, f"网格{code[-3:]}", box)

    buildings = {}
    for code, grid in grids.items():
        minx, miny, maxx, maxy = GRID_BOXES[code]
        for k in (1, 2):
            bcode = f"{code[:12]}{int(code[-3:]) * 10 + k:05d}"
            b = Building.objects.create(
                grid=grid,
                code=bcode,
                name=f"楼{bcode[-3:]}",
                address=f"{grid.name}{k}号楼",
                lng=minx + (maxx - minx) * (0.3 * k),
                lat=miny + (maxy - miny) * 0.5,
                floors=6,
            )
            buildings[bcode] = b
            for floor in (1, 2):
                for room in ("01", "02"):
                    House.objects.create(
                        building=b,
                        unit="1",
                        floor=floor,
                        room=f"{floor}{room}",
                        use="rented" if room == "02" else "owner_occupied",
                        households=2 if room == "01" else 1,
                    )
    recount_households()
    grids_changed()
    for a in (district, sub, comm_a, comm_b, block_a, block_b, *grids.values()):
        a.refresh_from_db()
    return SimpleNamespace(
        district=district,
        sub=sub,
        comm_a=comm_a,
        comm_b=comm_b,
        block_a=block_a,
        block_b=block_b,
        grids=grids,
        grid_a1=grids["440309002001001"],
        grid_a2=grids["440309002001002"],
        grid_b1=grids["440309002002001"],
        buildings=buildings,
    )


@pytest.fixture
def users(territory):
    t = territory
    department = make_org(OrganisationKind.DEPARTMENT, "440309-CG", "城管局", t.district)
    return SimpleNamespace(
        admin=make_user("admin", Role.ADMIN),
        staff_a=make_user("staff-a", Role.COMMUNITY_STAFF, area=t.comm_a),
        staff_b=make_user("staff-b", Role.COMMUNITY_STAFF, area=t.comm_b),
        grid_worker=make_user("worker-a1", Role.GRID_WORKER, area=t.grid_a1),
        department=make_user("dept", Role.DEPARTMENT_HANDLER, organisation=department),
        resident=make_user("resident", Role.RESIDENT),
    )


@pytest.fixture
def as_user(client):
    """as_user(user) → the test client logged in as that user."""

    def _as(user):
        client.force_login(user)
        return client

    return _as
