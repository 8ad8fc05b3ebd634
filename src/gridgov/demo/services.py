"""The demo district generator: `gridgov demo --scale small|district|longhua [--reset]`.

`generate()` writes a deterministic Longhua-like district (areas with nested polygons, buildings, houses),
its departments, partner units and community committees, and one or more users for every role, then writes
the demo logins to `<data dir>/demo-logins.json`. Scheme of codes, usernames and sizes: docs/demo.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from faker import Faker

from gridgov.accounts.models import Membership, Organisation, OrganisationKind, User
from gridgov.accounts.roles import Role
from gridgov.demo import geometry as geo
from gridgov.demo.data import (
    COMPANY_WORDS,
    DEFAULT_SEED,
    DEMO_PASSWORD,
    DEPARTMENTS,
    DISTRICT_CODE,
    PARTNER_PATTERNS,
    SCALES,
)
from gridgov.demo.planning import (
    AreaPlan,
    BuildingPlan,
    CompoundNames,
    TerritoryPlan,
    plan_buildings,
    plan_territory,
    rng_for,
)
from gridgov.territory import paths
from gridgov.territory.models import LEVEL_DEPTH, LEVEL_ORDER, Area, Building, House, Level
from gridgov.territory.services import grids_changed

__all__ = [
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "LOGIN_FIELDS",
    "LOGINS_FILE",
    "ROLE_ORDER",
    "DemoResult",
    "delete_demo",
    "demo_counts",
    "demo_exists",
    "demo_logins",
    "demo_users",
    "generate",
    "representative_logins",
    "write_logins",
]

LOGINS_FILE = "demo-logins.json"
LOGIN_FIELDS = (
    "role",
    "username",
    "password",
    "area_code",
    "area_name",
    "organisation_code",
    "organisation_name",
    "note",
)
ROLE_ORDER: tuple[str, ...] = (
    Role.ADMIN,
    Role.SECURITY_ADMIN,
    Role.AUDIT_ADMIN,
    Role.LEADER,
    Role.SUBDISTRICT_STAFF,
    Role.COMMUNITY_STAFF,
    Role.BLOCK_CHIEF,
    Role.GRID_WORKER,
    Role.BUILDING_HEAD,
    Role.PARTY_MEMBER,
    Role.VOLUNTEER,
    Role.RESIDENT,
    Role.DEPARTMENT_HANDLER,
    Role.PARTNER_ORG,
)
AREA_PREFIX = f"{DISTRICT_CODE}/"
HOUSE_FLUSH = 20_000

Log = Callable[[str], object]


@dataclass
class DemoResult:
    scale: str
    counts: dict[str, int]
    elapsed: float
    logins: list[dict]
    logins_path: Path
    created: bool = True
    timings: dict[str, float] = field(default_factory=dict)


# --- public API ---------------------------------------------------------------------------------------


def generate(
    scale: str = "small",
    *,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    data_dir: Path | None = None,
    history_days: int = 90,
    log: Log = print,
) -> DemoResult:
    """Generate the demo district at `scale` (small | district | longhua) with `history_days` days of
    cases (demo/history.py; 0 for none).

    If the district already exists and `reset` is false nothing is written but the logins file. With
    `reset` every demo record is deleted first and the district is generated again."""
    if scale not in SCALES:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of: {', '.join(SCALES)}")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    created = False
    with transaction.atomic():
        if demo_exists():
            if not reset:
                found = _detect_scale()
                log(
                    f"The demo district {DISTRICT_CODE} already exists (scale {found}); use --reset to regenerate it."
                )
                scale = found
            else:
                t = time.perf_counter()
                delete_demo(log=log)
                timings["delete"] = time.perf_counter() - t
        if not demo_exists():
            _build(scale, seed, log, timings)
            grids_changed()
            from gridgov.registry.demo import generate_registry

            generate_registry(seed=seed, log=log)
            from gridgov.rental.demo import generate_rental

            t = time.perf_counter()
            generate_rental(seed=seed, log=log)
            timings["rental"] = time.perf_counter() - t
            from gridgov.demo.admin import generate_admin

            generate_admin(log=log)
            if history_days > 0:
                from gridgov.demo.history import generate_history

                t = time.perf_counter()
                generate_history(seed=seed, days=history_days, log=log)
                timings["history"] = time.perf_counter() - t
            # After the history, so the generated cases keep their cast (demo/history.py).
            t = time.perf_counter()
            staffed = _insert_staffing(seed)
            timings["staffing"] = time.perf_counter() - t
            log(f"Staffed {staffed:,} grids: grid chief, a second grid worker, building heads, AB岗 backups.")
            from gridgov.fieldwork.demo import generate_fieldwork

            t = time.perf_counter()
            generate_fieldwork(seed=seed, log=log)
            timings["fieldwork"] = time.perf_counter() - t
            created = True
    _train_suggestions(retrain=created, data_dir=data_dir, log=log, timings=timings)
    logins = demo_logins()
    path = write_logins(logins, data_dir)
    counts = demo_counts()
    elapsed = time.perf_counter() - started
    if created:
        log(f"Demo district generated at scale {scale} in {elapsed:.1f} s: " + _format_counts(counts))
    log(f"Demo logins ({len(logins)}) written to {path}; the password of every demo user is {DEMO_PASSWORD}")
    return DemoResult(scale, counts, elapsed, logins, path, created, timings)


def _train_suggestions(*, retrain: bool, data_dir: Path | None, log: Log, timings: dict[str, float]) -> None:
    """The category suggestions learn from the demo's closed cases now, not at the nightly run: a fresh
    demo suggests categories at once (again after --reset; once if an older demo has no model yet)."""
    from gridgov.cases import suggest

    t = time.perf_counter()
    if retrain:
        result = suggest.train_classifier(data_dir=data_dir)
    else:
        result = suggest.train_if_missing(data_dir=data_dir)
    timings["suggestions"] = time.perf_counter() - t
    if result["trained"]:
        log(
            f"Category suggestions trained on {result['cases']} closed cases ({result['categories']} categories)"
        )
    elif retrain:
        log(f"Category suggestions not trained: {result['reason']}")


def demo_exists() -> bool:
    return Area.objects.filter(code=DISTRICT_CODE).exists()


def demo_users():
    """The users the demo creates: every username is `<role>-<code>…` under the district code."""
    q = Q()
    for role in Role.values:
        q |= Q(username__startswith=f"{role}-{DISTRICT_CODE}")
    return User.objects.filter(q)


def _demo_organisations():
    return Organisation.objects.filter(
        Q(code__startswith=DISTRICT_CODE) | Q(area__path__startswith=AREA_PREFIX)
    )


def demo_counts() -> dict[str, int]:
    by_level = dict(
        Area.objects.filter(path__startswith=AREA_PREFIX)
        .values_list("level")
        .annotate(n=Count("id"))
        .order_by()
    )
    district = Area.objects.filter(code=DISTRICT_CODE).values_list("households", flat=True).first()
    users = demo_users()
    return {
        "subdistricts": by_level.get(Level.SUBDISTRICT, 0),
        "communities": by_level.get(Level.COMMUNITY, 0),
        "blocks": by_level.get(Level.BLOCK, 0),
        "grids": by_level.get(Level.GRID, 0),
        "buildings": Building.objects.filter(grid__path__startswith=AREA_PREFIX).count(),
        "houses": House.objects.filter(building__grid__path__startswith=AREA_PREFIX).count(),
        "households": district or 0,
        "organisations": _demo_organisations().count(),
        "users": users.count(),
        "memberships": Membership.objects.filter(user__in=users).count(),
    }


@transaction.atomic
def delete_demo(*, log: Log = print) -> None:
    """Delete the demo district and everything the demo made, children before parents."""
    from gridgov.fieldwork.demo import delete_fieldwork
    from gridgov.registry.demo import delete_registry
    from gridgov.rental.demo import delete_rental

    delete_fieldwork()  # before the users, areas and cases it points at
    delete_rental()  # before the residents, houses and cases it points at
    delete_registry()
    _delete_demo_cases()
    orgs = _demo_organisations()
    users = demo_users()
    Membership.objects.filter(
        Q(user__in=users) | Q(area__path__startswith=AREA_PREFIX) | Q(organisation__in=orgs)
    ).delete()
    users.delete()
    orgs.delete()
    houses, _ = House.objects.filter(building__grid__path__startswith=AREA_PREFIX).delete()
    Building.objects.filter(grid__path__startswith=AREA_PREFIX).delete()
    for level in reversed(LEVEL_ORDER):
        Area.objects.filter(path__startswith=AREA_PREFIX, level=level).delete()
    log(f"Deleted the demo district {DISTRICT_CODE} ({houses} houses).")


def _delete_demo_cases() -> None:
    """The cases of the demo district go with it. Their timelines are append-only for every role, so
    the reset removes them with plain SQL (demo data only: everything under the demo district)."""
    from gridgov.cases.models import Case, TimelineEvent
    from gridgov.core import timeline

    cases = Case.objects.filter(area__path__startswith=AREA_PREFIX)
    ids = list(cases.values_list("pk", flat=True))
    if not ids:
        return
    table = connection.ops.quote_name(TimelineEvent._meta.db_table)
    column = connection.ops.quote_name(TimelineEvent._meta.get_field("case").column)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({', '.join(['%s'] * len(chunk))})", chunk)
    timeline.delete_heads(TimelineEvent.chain_key_of(pk) for pk in ids)
    Case.objects.filter(pk__in=ids).update(merged_into=None)
    Case.objects.filter(pk__in=ids).delete()


def demo_logins() -> list[dict]:
    """One login per demo user, read back from the database, in ROLE_ORDER then username order."""
    first: dict[str, tuple] = {}
    rows = Membership.objects.filter(user__in=demo_users()).values_list(
        "user__username", "role", "area__code", "area__name", "organisation__code", "organisation__name", "id"
    )
    for row in rows:
        username, role, *_, pk = row
        if role in ROLE_ORDER and (
            username not in first
            or (ROLE_ORDER.index(role), pk) < (ROLE_ORDER.index(first[username][1]), first[username][-1])
        ):
            first[username] = row
    notes = _login_notes([(username, row[1]) for username, row in first.items()])
    logins = [
        {
            "role": role,
            "username": username,
            "password": DEMO_PASSWORD,
            "area_code": area_code,
            "area_name": area_name,
            "organisation_code": org_code,
            "organisation_name": org_name,
            "note": notes.get(username),
        }
        for username, role, area_code, area_name, org_code, org_name, _ in first.values()
    ]
    departments = [f"{DISTRICT_CODE}-{suffix}" for suffix, _ in DEPARTMENTS]

    def order(x: dict) -> tuple:
        code = x["organisation_code"]
        rank = departments.index(code) if code in departments else len(departments)
        return (ROLE_ORDER.index(x["role"]), rank, x["username"])

    logins.sort(key=order)
    return logins


def _login_notes(users: list[tuple[str, str]]) -> dict[str, str]:
    """社区书记 for the first community staff, the home of residents, the building of building heads."""
    notes: dict[str, str] = {}
    resident_buildings: dict[str, str] = {}
    heads = False
    for username, role in users:
        if role == Role.COMMUNITY_STAFF and username.endswith("-1"):
            notes[username] = "社区书记"
        elif role == Role.GRID_WORKER:
            notes[username] = "网格员" if username.endswith(SECOND_WORKER) else "网格长"
        elif role == Role.RESIDENT:
            _, community, number = username.split("-")
            resident_buildings[f"{community}{int(number):05d}"] = username
        elif role == Role.BUILDING_HEAD:
            heads = True
    codes = sorted(resident_buildings)
    for start in range(0, len(codes), 500):
        rows = (
            House.objects.filter(building__code__in=codes[start : start + 500], households__gt=0)
            .order_by("building__code", "unit", "floor", "room")
            .values_list("building__code", "building__address", "unit", "room")
        )
        for code, address, unit, room in rows:
            notes.setdefault(
                resident_buildings[code], f"住址：{address}{unit + '单元' if unit else ''}{room}室"
            )
    if heads:
        rows = (
            Building.objects.filter(grid__path__startswith=AREA_PREFIX)
            .order_by("code")
            .values_list("grid__code", "address")
        )
        for grid_code, address in rows:
            notes.setdefault(f"{Role.BUILDING_HEAD}-{grid_code}", f"楼长：{address}")
    return notes


def write_logins(logins: list[dict], data_dir: Path | None = None) -> Path:
    directory = Path(data_dir) if data_dir is not None else Path(settings.DATA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOGINS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(logins, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def representative_logins(result: DemoResult | list[dict]) -> list[dict]:
    """One login per role, preferring the users of the first community (whose data a newcomer sees)."""
    logins = result.logins if isinstance(result, DemoResult) else result
    communities = sorted(
        x["area_code"] for x in logins if x["role"] == Role.COMMUNITY_STAFF and x["area_code"]
    )
    first = communities[0] if communities else None

    def related(x: dict) -> bool:
        if first is None:
            return False
        area = x["area_code"]
        if area and (first.startswith(area) or area.startswith(first)):
            return True
        return first in x["username"] or (x["organisation_code"] or "").startswith(first)

    chosen = []
    for role in ROLE_ORDER:
        candidates = [x for x in logins if x["role"] == role]
        if candidates:
            chosen.append(next((x for x in candidates if related(x)), candidates[0]))
    return chosen


# --- generation -----------------------------------------------------------------------------------------


def _batch(model) -> int:
    """Rows per INSERT: at most 5,000 and well under PostgreSQL's 65,535 bind parameters."""
    return max(100, min(5000, 60_000 // len(model._meta.concrete_fields)))


def _ensure_pks(objs: list, model, key: str) -> None:
    """Backends that cannot return ids from a bulk insert: read them back by a unique key."""
    missing = [o for o in objs if o.pk is None]
    for start in range(0, len(missing), 900):
        chunk = missing[start : start + 900]
        ids = dict(
            model.objects.filter(**{f"{key}__in": [getattr(o, key) for o in chunk]}).values_list(key, "pk")
        )
        for o in chunk:
            o.pk = ids[getattr(o, key)]


def _build(scale: str, seed: int, log: Log, timings: dict[str, float]) -> None:
    t = time.perf_counter()
    plan = plan_territory(scale, seed)
    timings["plan_territory"] = time.perf_counter() - t
    log(
        f"Planned {len(plan.communities)} communities, {len(plan.blocks)} blocks, {len(plan.grids)} grids, "
        f"{plan.district.households:,} households ({timings['plan_territory']:.1f} s)."
    )
    t = time.perf_counter()
    _insert_areas(plan)
    timings["areas"] = time.perf_counter() - t
    t = time.perf_counter()
    n_buildings, n_houses = _insert_buildings(plan, seed, log)
    timings["buildings"] = time.perf_counter() - t
    log(f"Inserted {n_buildings:,} buildings and {n_houses:,} houses ({timings['buildings']:.1f} s).")
    t = time.perf_counter()
    n_users = _insert_people(plan, seed)
    timings["people"] = time.perf_counter() - t
    log(f"Inserted organisations and {n_users:,} users ({timings['people']:.1f} s).")


def _insert_areas(plan: TerritoryPlan) -> None:
    for level_plans in plan.levels():
        objs = []
        for a in level_plans:
            a.path = (a.parent.path if a.parent else "") + f"{a.code}/"
            min_lng, min_lat, max_lng, max_lat = a.geom.bounds
            objs.append(
                Area(
                    parent_id=a.parent.pk if a.parent else None,
                    level=a.level,
                    code=a.code,
                    name=a.name,
                    path=a.path,
                    depth=LEVEL_DEPTH[a.level],
                    geometry=geo.to_geojson(a.geom),
                    min_lng=min_lng,
                    min_lat=min_lat,
                    max_lng=max_lng,
                    max_lat=max_lat,
                    households=a.households,
                )
            )
        Area.objects.bulk_create(objs, batch_size=_batch(Area))
        _ensure_pks(objs, Area, "code")
        for a, obj in zip(level_plans, objs, strict=True):
            a.pk = obj.pk


def _insert_buildings(plan: TerritoryPlan, seed: int, log: Log) -> tuple[int, int]:
    names = CompoundNames()
    houses: list[House] = []
    n_buildings = n_houses = 0
    house_batch = _batch(House)
    for i, comm in enumerate(plan.communities, 1):
        grids = [g for b in comm.children for g in b.children]
        grids.sort(key=lambda g: g.code)
        plans = plan_buildings(comm, grids, seed, names)
        objs = [_building(b) for b in plans]
        Building.objects.bulk_create(objs, batch_size=_batch(Building))
        _ensure_pks(objs, Building, "code")
        n_buildings += len(objs)
        for b, obj in zip(plans, objs, strict=True):
            for unit, floor, room, use, households in b.houses:
                houses.append(
                    House(
                        building_id=obj.pk, unit=unit, floor=floor, room=room, use=use, households=households
                    )
                )
        if len(houses) >= HOUSE_FLUSH or i == len(plan.communities):
            House.objects.bulk_create(houses, batch_size=house_batch)
            n_houses += len(houses)
            houses = []
        if len(plan.communities) >= 20 and i % 20 == 0:
            log(f"  … {i}/{len(plan.communities)} communities, {n_houses:,} houses")
    return n_buildings, n_houses


def _building(b: BuildingPlan) -> Building:
    return Building(
        grid_id=b.grid.pk,
        code=b.code,
        name=b.name,
        address=b.address,
        lng=b.lng,
        lat=b.lat,
        floors=b.floors,
        kind=b.kind,
        households=b.households,
    )


@dataclass
class _Person:
    username: str
    role: str
    area: AreaPlan | None = None
    organisation: Organisation | None = None


def _insert_people(plan: TerritoryPlan, seed: int) -> int:
    """Organisations, users for every role and their memberships."""
    district = plan.district
    orgs: list[Organisation] = []
    departments = [
        Organisation(kind=OrganisationKind.DEPARTMENT, code=f"{DISTRICT_CODE}-{suffix}", name=name)
        for suffix, name in DEPARTMENTS
    ]
    orgs.extend(departments)
    org_area: dict[str, AreaPlan] = {o.code: district for o in departments}
    partners: list[Organisation] = []
    for sub in plan.subdistricts:
        station = Organisation(
            kind=OrganisationKind.PARTNER,
            code=f"{sub.code}-PCS",
            name=f"{sub.name.removesuffix('街道')}派出所",
        )
        partners.append(station)
        org_area[station.code] = sub
        for comm in sub.children:
            committee = Organisation(
                kind=OrganisationKind.COMMITTEE, code=f"{comm.code}-JWH", name=f"{comm.name}居民委员会"
            )
            orgs.append(committee)
            org_area[committee.code] = comm
            rng = rng_for(seed, comm.code, "partners")
            word = rng.choice(COMPANY_WORDS)
            for k, pattern in enumerate(rng.sample(PARTNER_PATTERNS, rng.randint(2, 3)), 1):
                unit = Organisation(
                    kind=OrganisationKind.PARTNER,
                    code=f"{comm.code}-P{k:02d}",
                    name=pattern.format(stem=comm.stem, word=word),
                )
                partners.append(unit)
                org_area[unit.code] = comm
    orgs.extend(partners)
    for o in orgs:
        o.area_id = org_area[o.code].pk
    Organisation.objects.bulk_create(orgs, batch_size=_batch(Organisation))
    _ensure_pks(orgs, Organisation, "code")

    people: list[_Person] = [
        _Person(f"{Role.ADMIN}-{DISTRICT_CODE}", Role.ADMIN),
        _Person(f"{Role.SECURITY_ADMIN}-{DISTRICT_CODE}", Role.SECURITY_ADMIN),
        _Person(f"{Role.AUDIT_ADMIN}-{DISTRICT_CODE}", Role.AUDIT_ADMIN),
        _Person(f"{Role.LEADER}-{DISTRICT_CODE}", Role.LEADER, district),
    ]
    for sub in plan.subdistricts:
        people.append(_Person(f"{Role.LEADER}-{sub.code}", Role.LEADER, sub))
        people.extend(
            _Person(f"{Role.SUBDISTRICT_STAFF}-{sub.code}-{k}", Role.SUBDISTRICT_STAFF, sub) for k in (1, 2)
        )
    for comm in plan.communities:
        grids = sorted((g for b in comm.children for g in b.children), key=lambda g: g.code)
        people.extend(
            _Person(f"{Role.COMMUNITY_STAFF}-{comm.code}-{k}", Role.COMMUNITY_STAFF, comm) for k in (1, 2)
        )
        people.extend(_Person(f"{Role.BLOCK_CHIEF}-{b.code}", Role.BLOCK_CHIEF, b) for b in comm.children)
        people.extend(_Person(f"{Role.GRID_WORKER}-{g.code}", Role.GRID_WORKER, g) for g in grids)
        people.extend(_Person(f"{Role.BUILDING_HEAD}-{g.code}", Role.BUILDING_HEAD, g) for g in grids)
        people.extend(
            _Person(f"{Role.PARTY_MEMBER}-{comm.code}-{k}", Role.PARTY_MEMBER, grids[(k - 1) % len(grids)])
            for k in (1, 2)
        )
        people.extend(_Person(f"{Role.VOLUNTEER}-{comm.code}-{k}", Role.VOLUNTEER) for k in (1, 2))
        people.extend(_Person(f"{Role.RESIDENT}-{comm.code}-{k}", Role.RESIDENT) for k in (1, 2, 3))
    people.extend(
        _Person(f"{Role.DEPARTMENT_HANDLER}-{o.code}", Role.DEPARTMENT_HANDLER, organisation=o)
        for o in departments
    )
    people.extend(_Person(f"{Role.PARTNER_ORG}-{o.code}", Role.PARTNER_ORG, organisation=o) for o in partners)

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    password = make_password(DEMO_PASSWORD)
    now = timezone.now()
    users = [
        User(
            username=p.username,
            display_name=fake.name(),
            phone=fake.phone_number(),
            password=password,
            password_changed_at=now,
            date_joined=now,
            is_active=True,
        )
        for p in people
    ]
    User.objects.bulk_create(users, batch_size=_batch(User))
    _ensure_pks(users, User, "username")
    memberships = [
        Membership(
            user_id=u.pk,
            role=p.role,
            area_id=p.area.pk if p.area else None,
            organisation_id=p.organisation.pk if p.organisation else None,
        )
        for p, u in zip(people, users, strict=True)
    ]
    Membership.objects.bulk_create(memberships, batch_size=_batch(Membership))
    return len(users)


SECOND_WORKER = "-2"


def _insert_staffing(seed: int) -> int:
    """The posts of every grid (seed 002: 网格长、网格员、AB岗): the grid worker of each grid is its grid
    chief (网格长) and gets a second grid worker (网格员); each grid's chief and second worker have the
    next grid's as their standing backup (B岗); each building head looks after the first building of their grid (as the logins
    file says); the two community staff back each other up. One leave is planned (next week) so that
    the AB岗 screens show one; none is in effect, so every demo login works as itself."""
    from gridgov.accounts.models import Backup, Leave, Post

    grids = list(Area.objects.filter(path__startswith=AREA_PREFIX, level=Level.GRID).order_by("code"))
    chiefs = dict(
        Membership.objects.filter(role=Role.GRID_WORKER, area__in=grids).values_list("area_id", "user_id")
    )
    Membership.objects.filter(role=Role.GRID_WORKER, area__in=grids).update(post=Post.GRID_CHIEF)
    first_building: dict[int, int] = {}
    for grid_id, building_id in (
        Building.objects.filter(grid__in=grids).order_by("grid_id", "code").values_list("grid_id", "id")
    ):
        first_building.setdefault(grid_id, building_id)
    heads = list(Membership.objects.filter(role=Role.BUILDING_HEAD, area__in=grids))
    for m in heads:
        m.building_id = first_building.get(m.area_id)
    Membership.objects.bulk_update(heads, ["building"], batch_size=_batch(Membership))
    fake = Faker("zh_CN")
    fake.seed_instance(seed + 2)
    password = make_password(DEMO_PASSWORD)
    now = timezone.now()
    seconds = [
        User(
            username=f"{Role.GRID_WORKER}-{g.code}{SECOND_WORKER}",
            display_name=fake.name(),
            phone=fake.phone_number(),
            password=password,
            password_changed_at=now,
            date_joined=now,
        )
        for g in grids
    ]
    User.objects.bulk_create(seconds, batch_size=_batch(User))
    _ensure_pks(seconds, User, "username")
    Membership.objects.bulk_create(
        [
            Membership(user_id=u.pk, role=Role.GRID_WORKER, area_id=g.pk)
            for g, u in zip(grids, seconds, strict=True)
        ],
        batch_size=_batch(Membership),
    )
    # AB岗 between neighbouring grids of a community (the chief of one grid backs up the chief of the
    # next, the second worker the next grid's second worker): a backup from the same grid would already
    # hold the same to-dos.
    by_community: dict[str, list[tuple[int | None, int]]] = {}
    for g, second in zip(grids, seconds, strict=True):
        by_community.setdefault(paths.community_path(g.path), []).append((chiefs.get(g.pk), second.pk))
    backups = []
    for posts in by_community.values():
        for i, (chief, second_id) in enumerate(posts):
            next_chief, next_second = posts[(i + 1) % len(posts)]
            if len(posts) == 1:
                next_chief, next_second = second_id, chief
            if chief is not None and next_chief is not None:
                backups.append(Backup(user_id=chief, backup_id=next_chief))
            if next_second is not None:
                backups.append(Backup(user_id=second_id, backup_id=next_second))
    staff: dict[int, list[int]] = {}
    for area_id, user_id in (
        Membership.objects.filter(role=Role.COMMUNITY_STAFF, area__path__startswith=AREA_PREFIX)
        .order_by("user__username")
        .values_list("area_id", "user_id")
    ):
        staff.setdefault(area_id, []).append(user_id)
    for pair in staff.values():
        if len(pair) >= 2:
            backups += [
                Backup(user_id=pair[0], backup_id=pair[1]),
                Backup(user_id=pair[1], backup_id=pair[0]),
            ]
    Backup.objects.bulk_create(backups, batch_size=_batch(Backup))
    if grids and grids[0].pk in chiefs:
        start = timezone.localtime(now).replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(
            days=7
        )
        Leave.objects.create(
            user_id=chiefs[grids[0].pk],
            backup_id=next(b.backup_id for b in backups if b.user_id == chiefs[grids[0].pk]),
            starts_at=start,
            ends_at=start + dt.timedelta(days=3),
            note="年休假",
        )
    return len(grids)


def _detect_scale() -> str:
    counts = (
        Area.objects.filter(path__startswith=AREA_PREFIX, level=Level.COMMUNITY).count(),
        Area.objects.filter(code=DISTRICT_CODE).values_list("households", flat=True).first() or 0,
    )
    communities, households = counts
    if communities == sum(SCALES["small"].communities.values()):
        return "small"
    if communities == sum(SCALES["longhua"].communities.values()):
        return "longhua" if households >= 500_000 else "district"
    return "custom"


def _format_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v:,} {k}" for k, v in counts.items())
