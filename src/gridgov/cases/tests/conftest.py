"""The cases tests: the small world of gridgov.testing (community A with grids A1 and A2, community B with
B1, departments 城管局 440309-CG, 公安分局 440309-GA, 消防大队 440309-XF) and one user per role.

Grids are 0.01° squares along lat 22.60–22.61: A1 114.00–114.01, A2 114.01–114.02, B1 114.02–114.03.
"""

from __future__ import annotations

import pytest

from gridgov import testing
from gridgov.cases import services
from gridgov.cases.models import Case, Step
from gridgov.testing import A1, A2, B1, OUTSIDE, build_world, cast, make_user  # noqa: F401  (tests import them here)


@pytest.fixture(autouse=True)
def fresh_locator():
    with testing.fresh_locator() as loc:
        yield loc


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def people(world):
    return cast(
        world, "admin", "leader", "sub_staff", "staff_a", "staff_b", "worker_a1", "worker_a2", "dept_cg",
        "dept_ga", "resident", "resident2",
        resident={"phone": "13812345678"}, resident2={"phone": "13987654321"},
    )  # fmt: skip


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
