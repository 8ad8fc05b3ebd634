"""A small territory and a cast of users for the accounts tests.

440309 district → 440309002 subdistrict → communities 440309002001 (A) and 440309002002 (B) → grids
440309002001001 / 440309002002001. Organisations: a department (district), a committee and a partner unit
in each community."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client

from gridgov.accounts.models import Membership, Organisation, OrganisationKind, User
from gridgov.accounts.roles import Role
from gridgov.territory.models import Area

PASSWORD = "Grid-Gov-2024!"
_HASH: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    """Hashing with argon2 costs ~0.1 s; hash the shared test password once."""
    if password not in _HASH:
        _HASH[password] = make_password(password)
    return _HASH[password]


def make_user(username: str, role: str | None = None, *, area=None, organisation=None, **fields) -> User:
    user = User(username=username, display_name=fields.pop("display_name", username.upper()), **fields)
    user.password = password_hash()
    user.save()
    if role:
        Membership.objects.create(user=user, role=role, area=area, organisation=organisation)
    return user


@pytest.fixture
def areas(db):
    def area(parent, level, code, name):
        a = Area(parent=parent, level=level, code=code, name=name)
        a.save()
        return a

    district = area(None, "district", "440309", "龙华区")
    sub = area(district, "subdistrict", "440309002", "民治街道")
    comm_a = area(sub, "community", "440309002001", "北站社区")
    comm_b = area(sub, "community", "440309002002", "民乐社区")
    grid_a = area(comm_a, "grid", "440309002001001", "北站第一网格")
    grid_b = area(comm_b, "grid", "440309002002001", "民乐第一网格")
    return SimpleNamespace(
        district=district, sub=sub, comm_a=comm_a, comm_b=comm_b, grid_a=grid_a, grid_b=grid_b
    )


@pytest.fixture
def orgs(areas):
    def org(kind, code, name, area):
        return Organisation.objects.create(kind=kind, code=code, name=name, area=area)

    return SimpleNamespace(
        dept=org(OrganisationKind.DEPARTMENT, "D-GA", "区公安分局", areas.district),
        cmt_a=org(OrganisationKind.COMMITTEE, "C-A", "北站社区居委会", areas.comm_a),
        cmt_b=org(OrganisationKind.COMMITTEE, "C-B", "民乐社区居委会", areas.comm_b),
        ptn_a=org(OrganisationKind.PARTNER, "P-A", "北站小学", areas.comm_a),
        ptn_b=org(OrganisationKind.PARTNER, "P-B", "民乐医院", areas.comm_b),
    )


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


class Api:
    """A JSON client for /api/v1 (set `language="en"` for English problem texts)."""

    def __init__(self, client: Client | None = None, *, language: str = "en", token: str | None = None):
        self.client = client or Client()
        self.language = language
        self.token = token
        self.csrf = ""

    def _headers(self, extra: dict) -> dict:
        headers = {"HTTP_ACCEPT_LANGUAGE": self.language}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        if self.csrf:
            headers["HTTP_X_CSRFTOKEN"] = self.csrf
        headers.update(extra)
        return headers

    def get(self, path: str, params: dict | None = None, **extra):
        return self.client.get("/api/v1" + path, params or {}, **self._headers(extra))

    def send(self, method: str, path: str, data: dict | None = None, **extra):
        body = json.dumps(data if data is not None else {})
        return getattr(self.client, method)(
            "/api/v1" + path, body, content_type="application/json", **self._headers(extra)
        )

    def post(self, path: str, data: dict | None = None, **extra):
        return self.send("post", path, data, **extra)

    def patch(self, path: str, data: dict | None = None, **extra):
        return self.send("patch", path, data, **extra)

    def delete(self, path: str, **extra):
        return self.client.delete("/api/v1" + path, **self._headers(extra))

    def login(self, username: str, password: str = PASSWORD, totp: str | None = None, **extra):
        payload = {"username": username, "password": password}
        if totp is not None:
            payload["totp"] = totp
        return self.post("/auth/login", payload, **extra)


@pytest.fixture
def api():
    return Api()


@pytest.fixture
def as_user():
    """An Api already logged in as the user (a session, without going through the password check)."""

    def _as(user, **kwargs) -> Api:
        client = Client()
        client.force_login(user)
        return Api(client, **kwargs)

    return _as
