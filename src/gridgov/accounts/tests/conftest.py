"""The accounts tests: the small world of gridgov.testing without geometry or buildings (440309 district →
440309002 subdistrict → communities A 440309002001 and B 440309002002 → blocks → grids 440309002001001 /
…002 / 440309002002001), one department D-GA at the district, a committee and a partner unit in each
community, and a cast of users."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gridgov import testing
from gridgov.accounts.models import User
from gridgov.accounts.roles import Role
from gridgov.testing import PASSWORD, Api, build_world  # noqa: F401  (tests import them here)


@pytest.fixture
def areas(db):
    w = build_world(geometry=False, buildings=False, departments={"dept": ("D-GA", "区公安分局")})
    return SimpleNamespace(
        world=w, district=w.district, sub=w.sub, comm_a=w.comm_a, comm_b=w.comm_b, grid_a=w.grid_a1, grid_b=w.grid_b1
    )  # fmt: skip


@pytest.fixture
def orgs(areas):
    w = areas.world
    return SimpleNamespace(dept=w.dept, cmt_a=w.cmt_a, cmt_b=w.cmt_b, ptn_a=w.ptn_a, ptn_b=w.ptn_b)


def make_user(username: str, role: str | None = None, **kwargs) -> User:
    kwargs.setdefault("display_name", username.upper())
    return testing.make_user(username, role, **kwargs)


@pytest.fixture
def people(areas, orgs):
    return SimpleNamespace(
        admin=make_user("sysadmin", Role.ADMIN),
        secadmin=make_user("secadmin", Role.SECURITY_ADMIN),
        auditor=make_user("auditor", Role.AUDIT_ADMIN),
        staff_a=make_user("staff_a", Role.COMMUNITY_STAFF, area=areas.comm_a, phone="13812345678"),
        staff_b=make_user("staff_b", Role.COMMUNITY_STAFF, area=areas.comm_b, phone="13987654321"),
        worker_a=make_user("worker_a", Role.GRID_WORKER, area=areas.grid_a),
        resident_a=make_user("resident_a", Role.RESIDENT, area=areas.grid_a),
        resident_b=make_user("resident_b", Role.RESIDENT, area=areas.grid_b),
        sub_staff=make_user("sub_staff", Role.SUBDISTRICT_STAFF, area=areas.sub),
        handler=make_user("handler", Role.DEPARTMENT_HANDLER, organisation=orgs.dept),
        partner_a=make_user("partner_a", Role.PARTNER_ORG, organisation=orgs.ptn_a),
        partner_b=make_user("partner_b", Role.PARTNER_ORG, organisation=orgs.ptn_b),
    )


@pytest.fixture
def api():
    return Api()


@pytest.fixture
def as_user():
    """An Api already logged in as the user (a session, without going through the password check)."""
    return testing.as_user
