"""The test kernel itself: its users sit where their role says, its world has the shape it documents."""

from __future__ import annotations

import pytest

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import AREA_ROLES, ORGANISATION_ROLES, Role
from gridgov.territory.models import Area, Building, House
from gridgov.testing import Api, assert_problem, build_world, snapshot, users_of_every_role

pytestmark = pytest.mark.django_db


def test_a_user_of_every_role_has_the_membership_its_role_requires():
    world = build_world()
    users = users_of_every_role(world, "b")
    assert set(users) == {r.value for r in Role}
    for role, user in users.items():
        (m,) = Membership.objects.filter(user=user)
        assert m.role == role
        if role in AREA_ROLES:
            assert m.area.level in AREA_ROLES[role] and m.area.path.startswith(world.sub.path), role
            assert m.area.path.startswith(world.comm_b.path) or m.area.level in ("subdistrict", "district")
        elif role in ORGANISATION_ROLES:
            assert m.organisation.kind == ORGANISATION_ROLES[role] and m.area is None, role
        else:
            assert m.area is None and m.organisation is None, role


def test_the_world_has_two_communities_with_grids_buildings_and_houses():
    world = build_world(far=True)
    assert [a.code for a in Area.objects.filter(level="community").order_by("code")] == [
        "440309002001", "440309002002", "440309003001",
    ]  # fmt: skip
    assert world.grid_a1.parent == world.block_a and world.block_a.parent == world.comm_a
    assert Building.objects.filter(grid=world.grid_b1).count() == 2
    assert House.objects.filter(building=world.b1).count() == 6
    assert world.cg.code == "440309-CG" and world.ptn_b.area == world.comm_b


def test_api_client_and_problem_assertions_in_both_languages():
    world = build_world()
    staff = users_of_every_role(world)["community_staff"]
    api = Api(staff, prefix="/api/v1/territory")
    assert api.ok(api.get(f"/areas/{world.comm_a.code}"))["code"] == world.comm_a.code
    assert_problem(api.get(f"/areas/{world.comm_b.code}"), 404, code="not-found", language="en")
    zh = Api(staff, prefix="/api/v1/territory", language="zh-hans")
    assert_problem(zh.get(f"/areas/{world.comm_b.code}"), 404, language="zh")
    with pytest.raises(AssertionError):
        assert_problem(api.get(f"/areas/{world.comm_a.code}"), 404)
    before = snapshot(world.comm_b)
    assert_problem(api.patch(f"/areas/{world.comm_b.code}", {"name": "改名"}), 403, code="forbidden")
    assert snapshot(world.comm_b) == before
    world.comm_b.name = "改名"
    world.comm_b.save()
    assert snapshot(world.comm_b) != before
