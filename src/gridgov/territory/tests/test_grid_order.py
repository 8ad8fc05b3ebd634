"""Issue 13, finding 12: grids are listed in code order (001, 002, 003, 004) wherever they are listed, not
in the tree's path order (grids are numbered within the community, so path order goes block by block:
001, 002, 004, 003)."""

from __future__ import annotations

import pytest

from gridgov.accounts.roles import Role
from gridgov.testing import Api, build_world, make_area, user_of_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    world = build_world()
    comm = world.comm_a
    make_area(world.block_a, "grid", f"{comm.code}004", "第04网格", (114.0, 22.60, 114.005, 22.605))
    block2 = make_area(comm, "block", f"{comm.code}02", "第2街区", (114.0, 22.61, 114.01, 22.62))
    make_area(block2, "grid", f"{comm.code}003", "第03网格", (114.0, 22.61, 114.01, 22.62))
    return world


def test_grids_are_listed_in_code_order(world):
    staff = user_of_role(Role.COMMUNITY_STAFF, world, "a")
    api = Api(staff, prefix="/api/v1/territory")
    comm = world.comm_a.code
    expected = [f"{comm}00{i}" for i in range(1, 5)]
    grids = api.ok(api.get("/areas", {"level": "grid", "page_size": 100}))
    items = grids["items"] if isinstance(grids, dict) else grids
    assert [a["code"] for a in items if a["code"].startswith(comm)] == expected
    features = api.ok(api.get("/geojson", {"level": "grid", "parent": comm}))["features"]
    assert [f["properties"]["code"] for f in features] == expected
