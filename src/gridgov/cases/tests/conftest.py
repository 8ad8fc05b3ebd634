"""The cases tests: the small world of gridgov.testing (community A with grids A1 and A2, community B with
B1, departments 城管局 440309-CG, 公安分局 440309-GA, 消防大队 440309-XF) and one user per role.

Grids are 0.01° squares along lat 22.60–22.61: A1 114.00–114.01, A2 114.01–114.02, B1 114.02–114.03.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gridgov import testing
from gridgov.accounts.roles import Role
from gridgov.cases import services
from gridgov.cases.models import Case, Step
from gridgov.testing import A1, A2, B1, OUTSIDE, build_world, make_user  # noqa: F401  (tests import them here)


@pytest.fixture(autouse=True)
def fresh_locator():
    with testing.fresh_locator() as loc:
        yield loc


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def people(world):
    w = world
    return SimpleNamespace(
        admin=make_user("admin", Role.ADMIN),
        leader=make_user("leader", Role.LEADER, area=w.district),
        sub_staff=make_user("sub_staff", Role.SUBDISTRICT_STAFF, area=w.sub),
        staff_a=make_user("staff_a", Role.COMMUNITY_STAFF, area=w.comm_a),
        staff_b=make_user("staff_b", Role.COMMUNITY_STAFF, area=w.comm_b),
        worker_a1=make_user("worker_a1", Role.GRID_WORKER, area=w.grid_a1),
        worker_a2=make_user("worker_a2", Role.GRID_WORKER, area=w.grid_a2),
        dept_cg=make_user("dept_cg", Role.DEPARTMENT_HANDLER, organisation=w.cg),
        dept_ga=make_user("dept_ga", Role.DEPARTMENT_HANDLER, organisation=w.ga),
        resident=make_user("resident", Role.RESIDENT, phone="13812345678"),
        resident2=make_user("resident2", Role.RESIDENT, phone="13987654321"),
    )


ROLES = (
    "admin",
    "leader",
    "sub_staff",
    "staff_a",
    "staff_b",
    "worker_a1",
    "worker_a2",
    "dept_cg",
    "dept_ga",
    "resident",
    "resident2",
)


def report(user, point=A1, **fields) -> Case:
    fields.setdefault("description", "小区门口垃圾堆放多日无人清理")
    case, created = services.intake(actor=user, lng=point[0], lat=point[1], **fields)
    assert created
    return case


def act(action: str, case: Case, user, **fields) -> Case:
    case.refresh_from_db()
    return services.perform(action, case_id=case.pk, version=case.version, actor=user, fields=fields)


def step_of(case: Case, org) -> Step:
    return Step.objects.exclude(status="cancelled").get(case=case, target=org)


class Api(testing.Api):
    """A JSON client for /api/v1/cases logged in as one user."""

    prefix = "/api/v1/cases"

    def action(self, case: Case, action: str, version: int | None = None, **fields):
        if version is None:
            case.refresh_from_db()
            version = case.version
        return self.post(f"/cases/{case.pk}/actions/{action}", {"version": version, **fields})


@pytest.fixture
def api():
    return Api
