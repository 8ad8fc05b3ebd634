"""The demo generator against the database: the small district is generated once for this module."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict

import pytest
import shapely
from django.contrib.auth import authenticate
from django.db.models import Count, Sum
from django.utils import timezone

from gridgov.accounts.models import Membership, Organisation, OrganisationKind
from gridgov.accounts.roles import AREA_ROLES, ORGANISATION_ROLES, Role
from gridgov.core.models import Revision
from gridgov.demo import services
from gridgov.demo.data import DEMO_PASSWORD, DEPARTMENTS, DISTRICT_CODE
from gridgov.demo.geometry import from_geojson
from gridgov.demo.tests.test_planning import assert_partition
from gridgov.territory.models import LEVEL_DEPTH, Area, Building, House, HouseUse
from gridgov.territory.services import GRID_REVISION

pytestmark = pytest.mark.django_db

CODE_PATTERNS = {
    "district": re.compile(r"^440309$"),
    "subdistrict": re.compile(r"^4403090\d\d$"),
    "community": re.compile(r"^4403090\d\d0\d\d$"),
    "block": re.compile(r"^4403090\d\d0\d\d\d\d$"),
    "grid": re.compile(r"^4403090\d\d0\d\d\d\d\d$"),
}


def quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def small(django_db_setup, django_db_blocker, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo")
    with django_db_blocker.unblock():
        result = services.generate("small", data_dir=data_dir, log=quiet)
        yield result
        services.delete_demo(log=quiet)


def digest() -> str:
    """Everything the demo writes, without database ids or timestamps."""
    h = hashlib.sha256()
    for row in (
        Area.objects.filter(path__startswith="440309/")
        .order_by("code")
        .values_list(
            "level",
            "code",
            "name",
            "path",
            "depth",
            "geometry",
            "min_lng",
            "min_lat",
            "max_lng",
            "max_lat",
            "households",
        )
    ):
        h.update(repr(row).encode())
    for row in Building.objects.order_by("code").values_list(
        "grid__code", "code", "name", "address", "lng", "lat", "floors", "kind", "households"
    ):
        h.update(repr(row).encode())
    for row in House.objects.order_by("building__code", "unit", "floor", "room").values_list(
        "building__code", "unit", "floor", "room", "use", "households"
    ):
        h.update(repr(row).encode())
    for row in Organisation.objects.order_by("code").values_list("kind", "code", "name", "area__code"):
        h.update(repr(row).encode())
    for row in (
        services.demo_users()
        .order_by("username")
        .values_list("username", "display_name", "phone_hash", "memberships__role", "memberships__area__code")
    ):
        h.update(repr(row).encode())
    return h.hexdigest()


def test_counts(small):
    counts = small.counts
    assert small.created and small.scale == "small"
    assert counts["subdistricts"] == 1 and counts["communities"] == 3
    assert 8_000 <= counts["households"] <= 10_000
    assert counts == services.demo_counts()
    assert counts["houses"] == House.objects.count() and counts["buildings"] == Building.objects.count()
    assert counts["users"] == counts["memberships"] == len(small.logins)
    for comm in Area.objects.filter(level="community"):
        assert 2 <= comm.children.count() <= 3
        assert 6 <= Area.objects.filter(level="grid", path__startswith=comm.path).count() <= 9
        assert 2_700 <= comm.households <= 3_300


def test_household_sums_are_consistent(small):
    grids = Area.objects.filter(level="grid")
    assert grids.exists()
    assert all(300 <= g.households <= 500 for g in grids)
    by_building = dict(House.objects.values_list("building_id").annotate(n=Sum("households")).order_by())
    by_grid: Counter[int] = Counter()
    for b in Building.objects.all():
        assert b.households == by_building[b.id]
        by_grid[b.grid_id] += b.households
    for g in grids:
        assert g.households == by_grid[g.id]
    for area in Area.objects.exclude(level="grid"):
        assert area.households == sum(c.households for c in area.children.all())


def test_polygons_nest_exactly(small):
    areas = list(Area.objects.all())
    geoms = {a.id: from_geojson(a.geometry) for a in areas}
    children = defaultdict(list)
    for a in areas:
        g = geoms[a.id]
        assert g.is_valid and g.geom_type in ("Polygon", "MultiPolygon")
        assert (a.min_lng, a.min_lat, a.max_lng, a.max_lat) == g.bounds
        assert 113.98 <= a.min_lng and a.max_lng <= 114.12 and 22.60 <= a.min_lat and a.max_lat <= 22.79
        if a.parent_id:
            children[a.parent_id].append(g)
    parents = [a for a in areas if a.level != "grid"]
    assert len(children) == len(parents)
    for a in parents:
        assert_partition(geoms[a.id], children[a.id])


def test_buildings_stand_in_their_grid(small):
    grids = {a.id: from_geojson(a.geometry) for a in Area.objects.filter(level="grid")}
    for g in grids.values():
        shapely.prepare(g)
    for b in Building.objects.all():
        assert shapely.contains_xy(grids[b.grid_id], b.lng, b.lat), b.code


def test_codes_follow_the_scheme(small):
    areas = list(Area.objects.select_related("parent__parent"))
    assert len({a.code for a in areas}) == len(areas)
    for a in areas:
        assert CODE_PATTERNS[a.level].match(a.code), a.code
        assert a.depth == LEVEL_DEPTH[a.level]
        if a.parent:
            # A grid is numbered within its community, not its block (docs/codes.md).
            owner = a.parent.parent if a.level == "grid" else a.parent
            assert a.code.startswith(owner.code)
            assert a.path == f"{a.parent.path}{a.code}/"
        else:
            assert a.code == DISTRICT_CODE and a.path == "440309/"
    for comm in (a for a in areas if a.level == "community"):
        blocks = sorted(a.code for a in areas if a.level == "block" and a.parent_id == comm.id)
        grids = sorted(a.code for a in areas if a.level == "grid" and a.path.startswith(comm.path))
        assert blocks == [f"{comm.code}{i:02d}" for i in range(1, len(blocks) + 1)]
        assert grids == [f"{comm.code}{i:03d}" for i in range(1, len(grids) + 1)]
        buildings = list(
            Building.objects.filter(grid__path__startswith=comm.path)
            .order_by("code")
            .values_list("code", flat=True)
        )
        assert buildings == [f"{comm.code}{i:05d}" for i in range(1, len(buildings) + 1)]
        assert re.fullmatch(r"民治社区|民泰社区|北站社区", comm.name)
    assert Area.objects.get(code="440309002001001").name == "民治社区第01网格"
    assert Area.objects.get(code="44030900200101").name == "民治社区第1街区"
    assert all(re.fullmatch(r"\d{17}", c) for c in Building.objects.values_list("code", flat=True))


def test_buildings_and_houses_are_sensible(small):
    assert Building.objects.get(code="44030900200100001").address.startswith("民治街道民治社区")
    floors = {b.id: (b.kind, b.floors) for b in Building.objects.all()}
    for kind, n in floors.values():
        assert (4 <= n <= 9) if kind == "urban_village" else (18 <= n <= 33)
    assert {k for k, _ in floors.values()} == {"urban_village", "compound"}
    uses = Counter()
    for building_id, floor, room, use, households in House.objects.values_list(
        "building_id", "floor", "room", "use", "households"
    ):
        uses[use] += 1
        assert 1 <= floor <= floors[building_id][1]
        assert room == f"{floor:02d}{room[2:]}"
        if use in (HouseUse.VACANT, HouseUse.COMMERCIAL):
            assert households == 0
        else:
            assert households in (1, 2)
    assert set(uses) == set(HouseUse.values)
    duplicates = (
        House.objects.values("building_id", "unit", "floor", "room").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_every_role_is_staffed(small):
    memberships = list(Membership.objects.select_related("area", "organisation", "user"))
    roles = Counter(m.role for m in memberships)
    assert set(roles) == set(Role.values)
    for m in memberships:
        if m.role in AREA_ROLES:
            assert m.area is not None and m.area.level in AREA_ROLES[m.role], m
        if m.role in ORGANISATION_ROLES:
            assert m.organisation is not None and m.organisation.kind == ORGANISATION_ROLES[m.role], m
    staffed = defaultdict(set)
    for m in memberships:
        if m.area:
            staffed[m.role].add(m.area.code)
        if m.organisation:
            staffed[m.role].add(m.organisation.code)
    codes = defaultdict(set)
    for level, code in Area.objects.values_list("level", "code"):
        codes[level].add(code)
    assert staffed[Role.COMMUNITY_STAFF] == codes["community"]
    assert staffed[Role.BLOCK_CHIEF] == codes["block"]
    assert staffed[Role.GRID_WORKER] == codes["grid"] == staffed[Role.BUILDING_HEAD]
    assert staffed[Role.SUBDISTRICT_STAFF] == codes["subdistrict"]
    assert staffed[Role.LEADER] == codes["district"] | codes["subdistrict"]
    orgs = Organisation.objects.all()
    assert staffed[Role.DEPARTMENT_HANDLER] == {o.code for o in orgs if o.kind == OrganisationKind.DEPARTMENT}
    assert staffed[Role.PARTNER_ORG] == {o.code for o in orgs if o.kind == OrganisationKind.PARTNER}
    assert len(staffed[Role.DEPARTMENT_HANDLER]) == len(DEPARTMENTS)
    assert {o.area.code for o in orgs if o.kind == OrganisationKind.COMMITTEE} == codes["community"]
    assert all(m.user.display_name for m in memberships)


def test_logins_file(small):
    path = small.logins_path
    assert path.name == "demo-logins.json"
    logins = json.loads(path.read_text(encoding="utf-8"))
    assert "民治社区" in path.read_text(encoding="utf-8")
    assert logins == small.logins
    assert all(tuple(x) == services.LOGIN_FIELDS for x in logins)
    assert all(x["password"] == DEMO_PASSWORD for x in logins)
    assert len({x["username"] for x in logins}) == len(logins)
    assert all(x["username"].isascii() for x in logins)
    for x in logins:
        if x["role"] in AREA_ROLES:
            assert x["area_code"] and x["area_name"] and x["organisation_code"] is None
        if x["role"] in ORGANISATION_ROLES:
            assert x["organisation_code"] and x["organisation_name"] and x["area_code"] is None

    chosen = services.representative_logins(small)
    assert [x["role"] for x in chosen] == list(services.ROLE_ORDER)
    by_role = {x["role"]: x for x in chosen}
    assert by_role[Role.GRID_WORKER]["username"] == "grid_worker-440309002001001"
    assert by_role[Role.COMMUNITY_STAFF]["username"] == "community_staff-440309002001-1"
    assert by_role[Role.COMMUNITY_STAFF]["note"] == "社区书记"
    assert by_role[Role.DEPARTMENT_HANDLER]["username"] == "department_handler-440309-GA"
    assert by_role[Role.LEADER]["area_code"] == DISTRICT_CODE
    assert by_role[Role.RESIDENT]["note"].startswith("住址：民治街道民治社区")

    user = authenticate(username="grid_worker-440309002001001", password=DEMO_PASSWORD)
    assert user is not None and user.password_changed_at is not None
    assert authenticate(username="grid_worker-440309002001001", password="wrong-Password1") is None


def test_rerun_without_reset_changes_nothing(small, tmp_path):
    before = digest()
    result = services.generate("district", data_dir=tmp_path, log=quiet)
    assert not result.created and result.scale == "small"
    assert result.counts == small.counts
    assert result.logins == small.logins
    assert json.loads((tmp_path / "demo-logins.json").read_text(encoding="utf-8")) == small.logins
    assert digest() == before


def test_reset_regenerates_the_same_district(small, tmp_path):
    before = digest()
    revision = Revision.current(GRID_REVISION)
    result = services.generate("small", reset=True, data_dir=tmp_path, log=quiet)
    assert result.created
    assert result.counts == small.counts
    assert result.logins == small.logins
    assert digest() == before
    assert Revision.current(GRID_REVISION) == revision + 1


def test_unknown_scale_is_refused():
    with pytest.raises(ValueError):
        services.generate("huge", log=quiet)


def test_a_fresh_demo_has_category_suggestions(small):
    """Issue 13, finding 2: the demo trains the suggestion model at its end (not at the nightly run)."""
    from gridgov.cases.classifier import CategoryClassifier
    from gridgov.cases.suggest import model_path

    path = model_path(small.logins_path.parent)
    assert path.is_file() and "suggestions" in small.timings
    model = CategoryClassifier.load(path)
    assert model.suggest("小区里的垃圾堆放多日无人清理", k=3)


def test_administration_screens_have_data(small):
    """安全管理 → 敏感信息授权 shows the security administrator's grants (one valid, one revoked), and the
    login pages name the demo password while the demo's logins exist (finding 12)."""
    from gridgov.accounts.selectors import login_info
    from gridgov.registry.models import PiiGrant

    grants = PiiGrant.objects.filter(granted_by__username__startswith="security_admin-")
    assert grants.count() == 2
    assert grants.filter(revoked_at__isnull=True).count() == 1
    assert login_info() == {"demo": True, "demo_password": services.DEMO_PASSWORD}


def test_every_grid_has_a_chief_a_second_worker_and_a_building_head_with_ab_backups(small):
    from gridgov.accounts.models import Backup, Leave, Post

    grids = Area.objects.filter(level="grid")
    workers = Membership.objects.filter(role=Role.GRID_WORKER)
    for grid in grids:
        posts = sorted(workers.filter(area=grid).values_list("post", flat=True))
        assert posts == ["", Post.GRID_CHIEF], grid.code
        head = Membership.objects.get(role=Role.BUILDING_HEAD, area=grid)
        assert head.building is not None and head.building.grid_id == grid.pk
    for block in Area.objects.filter(level="block"):
        assert Membership.objects.filter(role=Role.BLOCK_CHIEF, area=block).exists()
    # Every grid worker has a standing backup: the same post in the next grid of the community; no leave
    # is in effect (every login acts as itself).
    for m in workers.select_related("area"):
        backup = Backup.objects.get(user_id=m.user_id)
        theirs = workers.select_related("area").get(user_id=backup.backup_id)
        assert theirs.post == m.post and theirs.area_id != m.area_id
        assert theirs.area.parent.parent_id == m.area.parent.parent_id  # the same community
    assert Leave.objects.count() == 1
    assert not Leave.objects.filter(starts_at__lte=timezone.now()).exists()


def test_return_visits_say_how_and_some_reach_nobody(small):
    """The demo's return visits follow the return_visit action's rules: the reporter rates in the app, staff
    by phone (most) or at the door (电话 / 上门); a few attempts reach nobody (联系不上): recorded with the
    method, no rating, the case stays closed — and is rated on a later try or waits for one."""
    from gridgov.cases.models import Case, TimelineEvent

    rated = Case.objects.filter(status="rated")
    assert rated.exists() and not rated.filter(visit_method="").exists()
    methods = Counter(rated.values_list("visit_method", flat=True))
    assert set(methods) <= {"phone", "visit", "app"}
    assert methods["phone"] > methods["visit"] > 0
    visits = list(TimelineEvent.objects.filter(action="return_visit"))
    by_reporter = [e for e in visits if e.data.get("by") == "reporter"]
    assert by_reporter and {(e.data["method"], e.data["reached"]) for e in by_reporter} == {("app", True)}
    staff = [e for e in visits if e.data.get("by") == "staff"]
    assert staff and {e.data["method"] for e in staff} == {"phone", "visit"}
    unreached = [e for e in staff if e.data.get("reached") is False]
    assert 0 < len(unreached) < len(staff) / 5  # a few
    for e in unreached:
        assert (e.from_status, e.to_status) == ("closed", "closed") and "satisfaction" not in e.data
    tried = Case.objects.filter(visit_unreached__gt=0)
    assert tried.exists() and not tried.filter(visit_method__in=["", "app"]).exists()
    assert sum(tried.values_list("visit_unreached", flat=True)) == len(unreached)
    waiting = tried.filter(status="closed")
    assert not waiting.exclude(satisfaction=None).exists()  # no rating without reaching the reporter
