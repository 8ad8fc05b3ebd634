"""A small territory, departments and one user per role for the cases tests.

    440309 district
      440309002 subdistrict
        440309002001 community A ─ grids 440309002001001 (A1), 440309002001002 (A2)
        440309002002001 community B ─ grid 440309002002001 (B1)

Grids are 0.01° squares along lat 22.60–22.61: A1 114.00–114.01, A2 114.01–114.02, B1 114.02–114.03.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import shapely
from django.test import Client

from gridgov.accounts.models import Membership, Organisation, OrganisationKind, User
from gridgov.accounts.roles import Role
from gridgov.cases import services
from gridgov.cases.models import Case, Step
from gridgov.territory import locator
from gridgov.territory.models import Area
from gridgov.territory.services import grids_changed

A1 = (114.005, 22.605)
A2 = (114.015, 22.605)
B1 = (114.025, 22.605)
OUTSIDE = (113.5, 22.0)


def make_area(parent, level, code, name, box=None) -> Area:
    area = Area(parent=parent, level=level, code=code, name=name)
    if box is not None:
        area.geometry = shapely.to_geojson(shapely.box(*box))
        area.min_lng, area.min_lat, area.max_lng, area.max_lat = box
    area.save()
    return area


def make_user(username: str, role: str | None = None, *, area=None, organisation=None, phone="") -> User:
    user = User.objects.create(username=username, display_name=username, phone=phone)
    if role:
        Membership.objects.create(user=user, role=role, area=area, organisation=organisation)
    return user


@pytest.fixture(autouse=True)
def fresh_locator():
    loc = locator.get_locator()
    loc.reset()
    saved = loc.check_interval
    loc.check_interval = 0.0
    yield loc
    loc.check_interval = saved
    loc.reset()


@pytest.fixture
def world(db):
    district = make_area(None, "district", "440309", "龙华区", (114.00, 22.60, 114.03, 22.61))
    sub = make_area(district, "subdistrict", "440309002", "民治街道", (114.00, 22.60, 114.03, 22.61))
    comm_a = make_area(sub, "community", "440309002001", "北站社区", (114.00, 22.60, 114.02, 22.61))
    comm_b = make_area(sub, "community", "440309002002", "民乐社区", (114.02, 22.60, 114.03, 22.61))
    grid_a1 = make_area(comm_a, "grid", "440309002001001", "北站一格", (114.00, 22.60, 114.01, 22.61))
    grid_a2 = make_area(comm_a, "grid", "440309002001002", "北站二格", (114.01, 22.60, 114.02, 22.61))
    grid_b1 = make_area(comm_b, "grid", "440309002002001", "民乐一格", (114.02, 22.60, 114.03, 22.61))
    grids_changed()

    def dept(suffix, name):
        return Organisation.objects.create(
            kind=OrganisationKind.DEPARTMENT, code=f"440309-{suffix}", name=name, area=district
        )

    cg, ga, xf = dept("CG", "城管局"), dept("GA", "公安分局"), dept("XF", "消防大队")
    return SimpleNamespace(
        district=district,
        sub=sub,
        comm_a=comm_a,
        comm_b=comm_b,
        grid_a1=grid_a1,
        grid_a2=grid_a2,
        grid_b1=grid_b1,
        cg=cg,
        ga=ga,
        xf=xf,
    )


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


class Api:
    """A JSON client for /api/v1/cases logged in as one user."""

    def __init__(self, user=None, *, language: str = "en"):
        self.client = Client()
        if user is not None:
            self.client.force_login(user)
        self.language = language

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get(
            "/api/v1/cases" + path, params or {}, HTTP_ACCEPT_LANGUAGE=self.language, **extra
        )

    def post(self, path: str, data: dict | None = None, **extra):
        return self.client.post(
            "/api/v1/cases" + path,
            json.dumps(data if data is not None else {}),
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE=self.language,
            **extra,
        )

    def action(self, case: Case, action: str, version: int | None = None, **fields):
        if version is None:
            case.refresh_from_db()
            version = case.version
        return self.post(f"/cases/{case.pk}/actions/{action}", {"version": version, **fields})


@pytest.fixture
def api():
    return Api
