"""The test kernel: one API client, users of every role, and a small world, for every app's tests.

    from gridgov.testing import Api, build_world, user_of_role, assert_problem, snapshot

    world = build_world()                                   # two communities, blocks, grids, buildings …
    staff = user_of_role(Role.COMMUNITY_STAFF, world)       # membership on community A
    api = Api(staff, prefix="/api/v1/territory")            # logged in; JSON in, JSON out
    assert api.get(f"/areas/{world.comm_b.code}").status_code == 404

The world (codes and names are the real Longhua ones, geometry in WGS-84; 0.01° squares at lat 22.60–22.61):

    440309 district 龙华区
      440309002 subdistrict 民治街道
        440309002001 community A 北站社区 ─ 44030900200101 block ─ grids A1 440309002001001, A2 …002
        440309002002 community B 民乐社区 ─ 44030900200201 block ─ grid  B1 440309002002001
      440309003 subdistrict 大浪街道                       (only with build_world(far=True))
        440309003001 community C 浪口社区 ─ 44030900300101 block ─ grid  C1 440309003001001

    lng 114.00   114.01   114.02   114.03   114.04
         |  A1    |  A2    |  B1    |  C1    |

Every grid has two buildings (codes <grid code>01, <grid code>02; address "<grid name>1栋"/"2栋"), each with
unit 1, floors 1–3, rooms 0101 0102 0201 0202 0301 0302. Organisations: departments at the district
(城管局 440309-CG, 公安分局 440309-GA, 消防大队 440309-XF), a residents' committee and a partner unit in
each community (C-A / P-A, C-B / P-B, C-C / P-C).

Only tests import this module. It does not import pytest: app conftests wrap its pieces in fixtures (see
docs/kernel/testing.md).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import models
from django.forms.models import model_to_dict
from django.http import HttpResponse, HttpResponseBase
from django.test import Client

from gridgov.accounts.models import ApiToken, Membership, Organisation, OrganisationKind, User
from gridgov.accounts.roles import AREA_ROLES, ORGANISATION_ROLES, Role
from gridgov.territory.models import Area, Building, House

PASSWORD = "Grid-Gov-2024!"
PROBLEM_CONTENT_TYPE = "application/problem+json"
_HASH: dict[str, str] = {}

Box = tuple[float, float, float, float]


# ── users ──────────────────────────────────────────────────────────────────────────────────────────


def password_hash(password: str = PASSWORD) -> str:
    """Hashing with argon2 costs ~0.1 s; hash each test password once per process."""
    if password not in _HASH:
        _HASH[password] = make_password(password)
    return _HASH[password]


def make_user(
    username: str,
    role: str | None = None,
    *,
    area: Area | None = None,
    organisation: Organisation | None = None,
    password: str | None = PASSWORD,
    display_name: str | None = None,
    **fields: Any,
) -> User:
    """A user (password PASSWORD unless told otherwise; None: no usable password) with one membership."""
    user = User(username=username, display_name=display_name or username, **fields)
    if password is None:
        user.set_unusable_password()
    else:
        user.password = password_hash(password)
    user.save()
    if role:
        Membership.objects.create(user=user, role=role, area=area, organisation=organisation)
    return user


def make_token(user: User, secret: str | None = None, *, name: str = "test") -> str:
    """An API token of the user; returns the secret to send as `Authorization: Bearer <secret>`."""
    from gridgov.accounts.services import hash_token

    secret = secret or f"gg_test-{user.username}-{user.pk}"
    ApiToken.objects.create(user=user, name=name, prefix=secret[:8], token_hash=hash_token(secret))
    return secret


# ── the world ──────────────────────────────────────────────────────────────────────────────────────


def make_area(parent: Area | None, level: str, code: str, name: str, box: Box | None = None) -> Area:
    """An area; with a box it gets the square as its geometry and bounding box."""
    area = Area(parent=parent, level=level, code=code, name=name)
    if box is not None:
        import shapely

        area.geometry = shapely.to_geojson(shapely.box(*box))
        area.min_lng, area.min_lat, area.max_lng, area.max_lat = box
    area.save()
    return area


def make_org(kind: str, code: str, name: str, area: Area | None) -> Organisation:
    return Organisation.objects.create(kind=kind, code=code, name=name, area=area)


def make_buildings(grid: Area, *, per_grid: int = 2, box: Box | None = None) -> list[Building]:
    """Buildings <grid code>0k with unit 1, floors 1–3 and two rooms a floor; placed inside the box."""
    minx, miny, maxx, maxy = box or (114.0, 22.6, 114.0, 22.6)
    buildings, houses = [], []
    for k in range(1, per_grid + 1):
        b = Building.objects.create(
            grid=grid,
            code=f"{grid.code}0{k}",
            name=f"{k}栋",
            address=f"{grid.name}{k}栋",
            lng=minx + (maxx - minx) * k / (per_grid + 1),
            lat=(miny + maxy) / 2,
        )
        buildings.append(b)
        for floor in (1, 2, 3):
            for door in (1, 2):
                houses.append(House(building=b, unit="1", floor=floor, room=f"{floor:02d}{door:02d}"))
    House.objects.bulk_create(houses)
    return buildings


DEPARTMENTS = {
    "cg": ("440309-CG", "城管局"),
    "ga": ("440309-GA", "公安分局"),
    "xf": ("440309-XF", "消防大队"),
}

# Points inside each grid (lng, lat).
A1 = (114.005, 22.605)
A2 = (114.015, 22.605)
B1 = (114.025, 22.605)
C1 = (114.035, 22.605)
OUTSIDE = (113.5, 22.0)


@dataclass
class Community:
    """One community of the world and what hangs under it."""

    area: Area
    block: Area
    grids: list[Area]
    buildings: list[Building]
    committee: Organisation | None
    partner: Organisation | None

    @property
    def grid(self) -> Area:
        return self.grids[0]

    @property
    def building(self) -> Building:
        return self.buildings[0]


@dataclass
class World:
    """What build_world made. Attribute names follow the picture in the module docstring."""

    district: Area
    sub: Area
    communities: dict[str, Community]
    departments: dict[str, Organisation]
    sub2: Area | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # comm_a, block_a, grid_a1, grid_b1, cmt_a, ptn_b, cg, ga … as shortcuts.
        if name.startswith("__"):
            raise AttributeError(name)
        communities = self.__dict__.get("communities", {})
        m = re.fullmatch(r"(comm|block|cmt|ptn|grid)_([a-z])(\d?)", name)
        if m and m.group(2) in communities:
            c = communities[m.group(2)]
            kind, index = m.group(1), m.group(3)
            if kind == "comm":
                return c.area
            if kind == "block":
                return c.block
            if kind == "cmt":
                return c.committee
            if kind == "ptn":
                return c.partner
            if kind == "grid" and int(index or 1) <= len(c.grids):
                return c.grids[int(index or 1) - 1]
        if name in self.__dict__.get("departments", {}):
            return self.departments[name]
        raise AttributeError(name)

    @property
    def buildings(self) -> dict[str, Building]:
        return {b.code: b for c in self.communities.values() for b in c.buildings}

    @property
    def a1(self) -> Building:
        return self.communities["a"].buildings[0]

    @property
    def b1(self) -> Building:
        return self.communities["b"].buildings[0]

    def community(self, key: str) -> Community:
        return self.communities[key]


def build_world(
    *,
    far: bool = False,
    geometry: bool = True,
    buildings: bool = True,
    organisations: bool = True,
    departments: dict[str, tuple[str, str]] | None = None,
) -> World:
    """The small world of the module docstring (call inside a test with database access).

    far=True adds a second subdistrict with community C, for roles whose scope is a whole subdistrict.
    """
    from gridgov.territory.services import grids_changed

    def box(b: Box) -> Box | None:
        return b if geometry else None

    district = make_area(
        None, "district", "440309", "龙华区", box((114.00, 22.60, 114.04 if far else 114.03, 22.61))
    )
    sub = make_area(district, "subdistrict", "440309002", "民治街道", box((114.00, 22.60, 114.03, 22.61)))
    sub2 = (
        make_area(district, "subdistrict", "440309003", "大浪街道", box((114.03, 22.60, 114.04, 22.61)))
        if far
        else None
    )
    plan: list[tuple[str, Area, str, str, str, list[tuple[str, str, Box]], tuple[str, str], tuple[str, str]]] = [
        ("a", sub, "440309002001", "北站社区", "北站第1街区",
         [("440309002001001", "北站一格", (114.00, 22.60, 114.01, 22.61)),
          ("440309002001002", "北站二格", (114.01, 22.60, 114.02, 22.61))],
         ("C-A", "北站社区居委会"), ("P-A", "北站小学")),
        ("b", sub, "440309002002", "民乐社区", "民乐第1街区",
         [("440309002002001", "民乐一格", (114.02, 22.60, 114.03, 22.61))],
         ("C-B", "民乐社区居委会"), ("P-B", "民乐医院")),
    ]  # fmt: skip
    if sub2 is not None:
        plan.append(
            ("c", sub2, "440309003001", "浪口社区", "浪口第1街区",
             [("440309003001001", "浪口一格", (114.03, 22.60, 114.04, 22.61))],
             ("C-C", "浪口社区居委会"), ("P-C", "浪口中学"))
        )  # fmt: skip
    communities: dict[str, Community] = {}
    for key, parent, code, name, block_name, grid_plan, cmt, ptn in plan:
        minx = min(g[2][0] for g in grid_plan)
        maxx = max(g[2][2] for g in grid_plan)
        comm = make_area(parent, "community", code, name, box((minx, 22.60, maxx, 22.61)))
        block = make_area(comm, "block", code + "01", block_name, box((minx, 22.60, maxx, 22.61)))
        grids = [make_area(block, "grid", gcode, gname, box(gbox)) for gcode, gname, gbox in grid_plan]
        houses: list[Building] = []
        if buildings:
            for grid, (_, _, gbox) in zip(grids, grid_plan, strict=True):
                houses += make_buildings(grid, box=gbox)
        committee = partner = None
        if organisations:
            committee = make_org(OrganisationKind.COMMITTEE, cmt[0], cmt[1], comm)
            partner = make_org(OrganisationKind.PARTNER, ptn[0], ptn[1], comm)
        communities[key] = Community(comm, block, grids, houses, committee, partner)
    depts = {
        key: make_org(OrganisationKind.DEPARTMENT, code, name, district)
        for key, (code, name) in (DEPARTMENTS if departments is None else departments).items()
    }
    if geometry:
        grids_changed()
    return World(district=district, sub=sub, sub2=sub2, communities=communities, departments=depts)


# Where a user of each role sits (Role → "area level" or "organisation kind"), from accounts/roles.py.
def placement(role: str) -> tuple[str, str] | None:
    if role in AREA_ROLES:
        return ("area", AREA_ROLES[role][-1] if role == Role.LEADER else AREA_ROLES[role][0])
    if role in ORGANISATION_ROLES:
        return ("organisation", ORGANISATION_ROLES[role])
    return None


def user_of_role(
    role: str, world: World, community: str = "a", *, username: str | None = None, **fields: Any
) -> User:
    """A user of the role with the membership its role requires, placed in the community:
    grid roles on its first grid, block chief on its block, community staff on it, subdistrict staff and a
    leader on its subdistrict, department handlers on the first department, partner units on its partner
    unit; residents, volunteers and the three administrators have no area."""
    c = world.communities[community]
    username = username or f"{role}_{community}"
    where = placement(role)
    area = organisation = None
    if where and where[0] == "area":
        area = {
            "grid": c.grid,
            "block": c.block,
            "community": c.area,
            "subdistrict": c.area.parent,
            "district": world.district,
        }[where[1]]
    elif where and where[1] == OrganisationKind.DEPARTMENT:
        organisation = next(iter(world.departments.values()))
    elif where:
        organisation = c.partner
    return make_user(username, role, area=area, organisation=organisation, **fields)


# The named cast the apps' tests share: name → (role, where: an attribute of World, or None).
CAST: dict[str, tuple[str, str | None]] = {
    "admin": (Role.ADMIN, None),
    "security": (Role.SECURITY_ADMIN, None),
    "auditor": (Role.AUDIT_ADMIN, None),
    "leader": (Role.LEADER, "district"),
    "sub_staff": (Role.SUBDISTRICT_STAFF, "sub"),
    "staff_a": (Role.COMMUNITY_STAFF, "comm_a"),
    "staff_b": (Role.COMMUNITY_STAFF, "comm_b"),
    "worker_a1": (Role.GRID_WORKER, "grid_a1"),
    "worker_a2": (Role.GRID_WORKER, "grid_a2"),
    "head_a1": (Role.BUILDING_HEAD, "grid_a1"),
    "head_b1": (Role.BUILDING_HEAD, "grid_b1"),
    "party": (Role.PARTY_MEMBER, "grid_a1"),
    "dept_cg": (Role.DEPARTMENT_HANDLER, "cg"),
    "dept_ga": (Role.DEPARTMENT_HANDLER, "ga"),
    "resident": (Role.RESIDENT, None),
    "resident2": (Role.RESIDENT, None),
}


def cast(world: World, *names: str, **fields: dict[str, Any]) -> SimpleNamespace:
    """Users of the CAST, made in the order named (username = name); `fields` by name add user fields:
    cast(world, "staff_a", "resident", resident={"phone": "13812345678"})."""
    people = {}
    for name in names:
        role, where = CAST[name]
        place = getattr(world, where) if where else None
        if isinstance(place, Organisation):
            people[name] = make_user(name, role, organisation=place, **fields.get(name, {}))
        else:
            people[name] = make_user(name, role, area=place, **fields.get(name, {}))
    return SimpleNamespace(**people)


def users_of_every_role(world: World, community: str = "a") -> dict[str, User]:
    """One user of every role of accounts.roles.Role, placed in the community (see user_of_role)."""
    return {role.value: user_of_role(role.value, world, community) for role in Role}


# ── the API client ─────────────────────────────────────────────────────────────────────────────────


class Api:
    """A JSON client for the API, logged in as a user (a session without the password check), through a
    given Django test Client, or with an API token. Paths are relative to `prefix`.

        Api(user).get("/cases/cases", {"status": "new"}).json()
        Api(user, prefix="/api/v1/registry").post("/residents", {...})
        Api(token=secret).get("/auth/me")
        Api().login("staff_a")                                   # through POST /auth/login
    """

    prefix = "/api/v1"

    def __init__(
        self,
        who: User | Client | None = None,
        *,
        prefix: str | None = None,
        language: str = "en",
        token: str | None = None,
    ):
        if isinstance(who, Client):
            self.client = who
        else:
            self.client = Client()
            if who is not None:
                self.client.force_login(who)
        if prefix is not None:
            self.prefix = prefix
        self.language = language
        self.token = token
        self.csrf = ""

    def _headers(self, extra: dict[str, Any]) -> dict[str, Any]:
        headers: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": self.language}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        if self.csrf:
            headers["HTTP_X_CSRFTOKEN"] = self.csrf
        headers.update(extra)
        return headers

    def url(self, path: str) -> str:
        return path if path.startswith("/api/") else self.prefix + path

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(self.url(path), params or {}, **self._headers(extra))

    def send(self, method: str, path: str, data: Any = None, **extra: Any) -> Any:
        body = json.dumps(data if data is not None else {})
        return getattr(self.client, method)(
            self.url(path), body, content_type="application/json", **self._headers(extra)
        )

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.send("post", path, data, **extra)

    def put(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.send("put", path, data, **extra)

    def patch(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.send("patch", path, data, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(self.url(path), **self._headers(extra))

    def upload(self, path: str, data: bytes, name: str, **form: Any) -> Any:
        """A multipart POST with one file in the field `file` and the other form fields."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(
            self.url(path), {"file": SimpleUploadedFile(name, data), **form}, **self._headers({})
        )

    def login(self, username: str, password: str = PASSWORD, totp: str | None = None, **extra: Any) -> Any:
        """POST /auth/login (the real password check); the session stays on this client."""
        payload = {"username": username, "password": password}
        if totp is not None:
            payload["totp"] = totp
        return self.send("post", "/api/v1/auth/login", payload, **extra)

    def ok(self, response: Any, status: int = 200) -> Any:
        """The JSON of a response that must have the status (the body is shown when it has not)."""
        assert response.status_code == status, f"{response.status_code}: {response.content[:500]!r}"
        return response.json()


def as_user(user: User, **kwargs: Any) -> Api:
    return Api(user, **kwargs)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_problem(
    response: HttpResponseBase,
    status: int,
    *,
    code: str | None = None,
    field: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The response is an RFC 9457 problem+json with the status (and the problem code, a field error
    naming `field`, a title and detail in `language` "zh" or "en" when given). Returns the body."""
    assert isinstance(response, HttpResponse)
    assert response.status_code == status, f"{response.status_code} ≠ {status}: {response.content[:500]!r}"
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE), response["Content-Type"]
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status and body["title"] and body["detail"], body
    if code is not None:
        assert body["type"].rsplit("/", 1)[-1] == code, body["type"]
    if field is not None:
        fields = [e.get("field", "") for e in body.get("errors", [])]
        assert any(f == field or f.endswith("." + field) for f in fields), f"{field} not in {fields}"
    if language == "zh":
        assert _CJK.search(body["title"] + body["detail"]), f"not Chinese: {body}"
    elif language == "en":
        assert not _CJK.search(body["title"]), f"not English: {body}"
    return body


# ── row state: did anything change? ────────────────────────────────────────────────────────────────


def snapshot(*objects: models.Model | models.QuerySet[Any] | Iterable[models.Model]) -> dict[str, Any]:
    """Every field of the rows as they are in the database now (re-read), keyed by model and id; compare
    a snapshot before a refused write with one after to prove nothing changed."""
    state: dict[str, Any] = {}
    for obj in objects:
        rows: Iterable[models.Model]
        if isinstance(obj, models.Model):
            rows = type(obj)._default_manager.filter(pk=obj.pk)
        elif isinstance(obj, models.QuerySet):
            rows = obj.model._default_manager.filter(pk__in=list(obj.values_list("pk", flat=True)))
        else:
            rows = list(obj)
        for row in rows:
            data = model_to_dict(row)
            data.update({f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields})
            state[f"{row._meta.label}:{row.pk}"] = {k: repr(v) for k, v in data.items()}
    return state


# ── process-wide state ─────────────────────────────────────────────────────────────────────────────


@contextlib.contextmanager
def fresh_locator() -> Iterator[Any]:
    """The point→grid locator is process-wide: start from nothing and re-check the revision each call."""
    from gridgov.territory import locator

    loc = locator.get_locator()
    loc.reset()
    saved = loc.check_interval
    loc.check_interval = 0.0
    try:
        yield loc
    finally:
        loc.check_interval = saved
        loc.reset()


@contextlib.contextmanager
def immediate_tasks() -> Iterator[None]:
    """Huey tasks run at once, in the caller's thread and transaction."""
    from huey.contrib.djhuey import HUEY

    previous = HUEY.immediate
    HUEY.immediate = True
    try:
        yield
    finally:
        HUEY.immediate = previous


@contextlib.contextmanager
def in_process_requests() -> Iterator[None]:
    """Requests made by a WSGI caller (schemathesis) run in the test's own thread and transaction: keep
    Django from closing the test's database connection at the end of each request (as its Client does)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
