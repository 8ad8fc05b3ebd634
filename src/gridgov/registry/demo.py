"""The registry part of the demo district: households for occupied houses, residents with valid
18-digit ID numbers (birth dates inside them, area codes of Longhua, the rest of Shenzhen and other
provinces), residence types, phones, units for shops with valid credit codes, care-group members and
a few submissions from building heads waiting for review. Deterministic for a seed.

Names come from Faker's zh_CN name lists; ID numbers and credit codes are built with their check
characters (validators.make_id_number / make_credit_code). Rows are written in bulk (COPY on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from itertools import accumulate

from django.db import connection, transaction
from django.db.models import Q
from faker.providers.person.zh_CN import Provider as Names
from faker.providers.ssn.zh_CN import Provider as Ssn

from gridgov.accounts.models import Membership
from gridgov.accounts.roles import Role
from gridgov.core import timeline
from gridgov.core.tabular import bulk
from gridgov.core.tabular.validators import make_credit_code, make_id_number
from gridgov.registry import importer, vault
from gridgov.registry.models import (
    CareMembership,
    Household,
    ImportJob,
    PiiGrant,
    RecordHistory,
    Relation,
    ResidenceType,
    Resident,
    Source,
    Submission,
    SubmissionAction,
    SubmissionKind,
    Unit,
    UnitKind,
)
from gridgov.territory.models import House, HouseUse

DISTRICT = "440309"
PREFIX = f"{DISTRICT}/"
SHENZHEN = ("440303", "440304", "440305", "440306", "440307", "440308")
OTHER = tuple(c for c in Ssn.area_codes if c[:2] in {"36", "43", "45", "51", "41", "42", "35", "52", "50", "44"}
              and not c.startswith("4403"))  # fmt: skip
SHOP_WORDS = (
    "便利店",
    "餐馆",
    "五金店",
    "理发店",
    "水果店",
    "药店",
    "快递驿站",
    "早餐店",
    "洗衣店",
    "手机维修",
)
COMPANY_WORDS = ("科技", "电子", "贸易", "物流", "信息技术", "文化传媒", "建材", "服饰")
STEMS = (
    "鸿远",
    "华强",
    "安达",
    "星辰",
    "睿联",
    "汇川",
    "德兴",
    "宏图",
    "联诚",
    "益民",
    "天成",
    "卓越",
    "金盛",
    "富源",
)

Log = Callable[[str], object]


def _names(rng: random.Random):
    surnames = list(Names.last_names.keys())
    weights = list(accumulate(Names.last_names.values()))
    male, female = Names.first_names_male, Names.first_names_female

    def name(gender: str) -> str:
        pool = male if gender == "M" else female
        given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
        return rng.choices(surnames, cum_weights=weights)[0] + given

    return name


def _phone(rng: random.Random) -> str:
    return rng.choice(("13", "15", "18", "17", "19")) + f"{rng.randrange(10**9):09d}"


def generate_registry(*, seed: int, log: Log = print) -> dict[str, int]:
    """Residents, households, units, care groups and submissions for the demo district's houses."""
    rng = random.Random(f"{seed}-registry")
    name_of = _names(rng)
    today = dt.date.today()
    heads_of_grid = dict(
        Membership.objects.filter(role=Role.BUILDING_HEAD, area__path__startswith=PREFIX).values_list(
            "area_id", "user_id"
        )
    )
    houses = list(
        House.objects.filter(building__grid__path__startswith=PREFIX)
        .filter(Q(households__gt=0) | Q(use=HouseUse.COMMERCIAL))
        .values_list("id", "building_id", "households", "use", "building__grid_id")
        .order_by("id")
    )
    used_ids: set[str] = set()
    sequence = 0

    def id_number(area: str, birth: dt.date, gender: str) -> str:
        nonlocal sequence
        while True:
            sequence += 1
            value = make_id_number(area, birth, (sequence * 7919) % 1000, gender)
            if value not in used_ids:
                used_ids.add(value)
                return value

    def birth_for(age: int) -> dt.date:
        return today - dt.timedelta(days=age * 365 + rng.randrange(365))

    people: list[dict] = []
    households: list[tuple] = []  # (house id, number, head index)
    shops: list[tuple] = []
    for house_id, building_id, count, use, grid_id in houses:
        if use == HouseUse.COMMERCIAL:
            shops.append((house_id, building_id, grid_id))
            continue
        for k in range(count):
            number = "" if count == 1 else str(k + 1)
            rented = use == HouseUse.RENTED
            if rented:
                rtype = ResidenceType.TENANT if rng.random() < 0.8 else ResidenceType.FLOATING
                size = rng.choices((1, 2, 3, 4), (40, 30, 20, 10))[0]
            else:
                rtype = ResidenceType.REGISTERED if rng.random() < 0.75 else ResidenceType.FLOATING
                size = rng.choices((1, 2, 3, 4, 5), (12, 28, 30, 20, 10))[0]
            area = (
                rng.choice((DISTRICT, DISTRICT, *SHENZHEN))
                if rtype == ResidenceType.REGISTERED
                else rng.choice(OTHER)
            )
            head_age = rng.randint(22, 80) if not rented else rng.randint(20, 55)
            head_gender = rng.choice("MF")
            since_floor = today - dt.timedelta(days=(3 * 365 if rented else 20 * 365))
            moved_in = since_floor + dt.timedelta(days=rng.randrange((today - since_floor).days))
            moved_out = None
            if rented and rng.random() < 0.03:
                moved_out = moved_in + dt.timedelta(days=rng.randrange(max(1, (today - moved_in).days)))
            members = [(head_gender, head_age, Relation.HEAD)]
            if size >= 2:
                members.append(
                    (
                        "F" if head_gender == "M" else "M",
                        max(20, head_age + rng.randint(-5, 5)),
                        Relation.SPOUSE,
                    )
                )
            for _ in range(size - len(members)):
                if head_age > 55 and rng.random() < 0.3:
                    members.append((rng.choice("MF"), rng.randint(1, 12), Relation.GRANDCHILD))
                elif head_age < 45 and rng.random() < 0.15:
                    members.append(
                        (rng.choice("MF"), min(95, head_age + rng.randint(22, 32)), Relation.PARENT)
                    )
                else:
                    members.append((rng.choice("MF"), max(0, head_age - rng.randint(22, 35)), Relation.CHILD))
            head_index = len(people)
            households.append((house_id, number, head_index, len(members)))
            for gender, age, relation in members:
                birth = birth_for(age)
                people.append(
                    {
                        "name": name_of(gender), "gender": gender, "birth": birth,
                        "id": id_number(area, birth, gender), "phone": _phone(rng) if age >= 14 else "",
                        "rtype": rtype, "moved_in": max(moved_in, birth), "moved_out": moved_out,
                        "relation": relation, "building": building_id, "house": house_id,
                        "household": len(households) - 1, "collector": heads_of_grid.get(grid_id), "age": age,
                    }
                )  # fmt: skip

    with transaction.atomic():
        sealer = vault.BatchSealer()
        now = bulk.db_now()
        household_ids = bulk.allocate_ids(Household, len(households))
        resident_ids = bulk.allocate_ids(Resident, len(people))
        bulk.write_rows(
            Household,
            importer.ResidentSpec.HOUSEHOLD_FIELDS,
            [
                (hid, house, number, resident_ids[head], Source.DEMO, None, 1, now, now)
                for hid, (house, number, head, _n) in zip(household_ids, households, strict=True)
            ],
        )
        rows = []
        for start in range(0, len(people), 20_000):
            chunk = people[start : start + 20_000]
            ids = [p["id"] for p in chunk]
            phones = [p["phone"] for p in chunk]
            for p, rid, ie, ih, pe, ph in zip(
                chunk, resident_ids[start:], sealer.seal(ids, "id_number"), sealer.hashes(ids),
                sealer.seal(phones, "phone"), sealer.hashes(phones), strict=False,
            ):  # fmt: skip
                rows.append(
                    (
                        rid, p["name"], p["gender"], p["birth"], ie, ih, pe, ph, sealer.key.id, p["rtype"],
                        p["moved_in"], p["moved_out"], p["relation"], p["building"], p["house"],
                        household_ids[p["household"]], p["collector"], Source.DEMO, None, None, 1, now, now,
                    )
                )  # fmt: skip
            bulk.write_rows(Resident, importer.ResidentSpec.RESIDENT_FIELDS, rows)
            rows = []

        # Units: a shop in every commercial house, some companies in compound buildings.
        units = []
        org = 0
        for house_id, building_id, grid_id in shops:
            org += 1
            phone = _phone(rng)
            kind = UnitKind.SHOP
            name = rng.choice(STEMS) + rng.choice(SHOP_WORDS)
            code = make_credit_code("92", "440309", f"{(org * 7_919_311) % 10**8:08d}{org % 10}")
            units.append((name, code, kind, building_id, house_id, name_of(rng.choice("MF")), phone,
                          rng.randint(1, 8), heads_of_grid.get(grid_id)))  # fmt: skip
        companies = list(
            House.objects.filter(building__grid__path__startswith=PREFIX, building__kind="compound", floor=2)
            .values_list("id", "building_id", "building__grid_id")
            .order_by("id")
        )
        for house_id, building_id, grid_id in rng.sample(
            companies, min(len(companies), max(1, len(shops) // 4))
        ):
            org += 1
            name = f"深圳{rng.choice(STEMS)}{rng.choice(COMPANY_WORDS)}有限公司"
            code = make_credit_code(
                "91", "440300", f"MA5{(org * 104_729) % 10**5:05d}{rng.choice('ABCDEFGH')}"
            )
            units.append((name, code, UnitKind.COMPANY, building_id, house_id, name_of(rng.choice("MF")), _phone(rng),
                          rng.randint(5, 200), heads_of_grid.get(grid_id)))  # fmt: skip
        phones = [u[6] for u in units]
        addresses = dict(
            House.objects.filter(id__in=[u[4] for u in units]).values_list("id", "building__address")
        )
        bulk.write_rows(
            Unit,
            importer.UnitSpec.UNIT_FIELDS,
            [
                (name, code, kind, addresses.get(house, ""), building, house, contact, enc, h, sealer.key.id,
                 employees, collector, Source.DEMO, None, None, 1, now, now)
                for (name, code, kind, building, house, contact, _p, employees, collector), enc, h in zip(
                    units, sealer.seal(phones, "phone"), sealer.hashes(phones), strict=True
                )
            ],
        )  # fmt: skip

        # Care groups.
        care = []
        sizes = {i: n for i, (_h, _n, _head, n) in enumerate(households)}
        for p, rid in zip(people, resident_ids, strict=True):
            if p["age"] >= 70 and sizes[p["household"]] == 1:
                care.append((rid, "elderly_alone"))
            x = rng.random()
            if x < 0.012:
                care.append((rid, "disabled"))
            elif x < 0.018 and p["relation"] == Relation.HEAD:
                care.append((rid, "low_income"))
            elif x < 0.022 and p["age"] < 16 and p["relation"] == Relation.GRANDCHILD:
                care.append((rid, "left_behind_child"))
            elif x < 0.024:
                care.append((rid, "serious_illness"))
            elif x < 0.027 and p["age"] >= 60:
                care.append((rid, "veteran"))
        CareMembership.objects.bulk_create(
            [CareMembership(resident_id=rid, group=group, since=today - dt.timedelta(days=rng.randrange(2000)))
             for rid, group in care],
            batch_size=5000,
        )  # fmt: skip

        # Submissions waiting for review: a new tenant collected by a few building heads.
        submissions = 0
        for grid_id, user_id in sorted(heads_of_grid.items())[:12]:
            house = (
                House.objects.filter(building__grid_id=grid_id, use=HouseUse.RENTED)
                .select_related("building")
                .first()
            )
            if house is None:
                continue
            gender = rng.choice("MF")
            birth = birth_for(rng.randint(20, 45))
            payload = {
                "name": name_of(gender), "id_number": id_number(rng.choice(OTHER), birth, gender), "phone": _phone(rng),
                "residence_type": "tenant", "building_code": house.building.code, "unit": house.unit,
                "room": house.room, "household_no": "new", "relation": "head",
                "moved_in": (today - dt.timedelta(days=rng.randrange(1, 20))).isoformat(),
            }  # fmt: skip
            from gridgov.registry.services import _seal_payload

            enc, key = _seal_payload(payload)
            Submission.objects.create(
                kind=SubmissionKind.RESIDENT, action=SubmissionAction.CREATE, building=house.building,
                payload_enc=enc, pii_key=key, submitted_by_id=user_id,
            )  # fmt: skip
            submissions += 1
    counts = {
        "households": len(households),
        "residents": len(people),
        "units": len(units),
        "care_members": len(care),
        "submissions": submissions,
    }
    log("Registry: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + ".")
    return counts


def delete_registry() -> None:
    """Delete every registry record of the demo district (and the imports and grants of its users)."""
    from gridgov.demo.services import demo_users

    users = demo_users()
    in_district = Q(building__grid__path__startswith=PREFIX)
    resident_ids = list(Resident.objects.filter(in_district).values_list("pk", flat=True))
    unit_ids = list(Unit.objects.filter(in_district).values_list("pk", flat=True))
    _delete_history("resident", resident_ids)
    _delete_history("unit", unit_ids)
    Submission.objects.filter(in_district | Q(submitted_by__in=users) | Q(reviewed_by__in=users)).delete()
    Household.objects.filter(house__building__grid__path__startswith=PREFIX).update(head=None)
    CareMembership.objects.filter(resident__building__grid__path__startswith=PREFIX).delete()
    Resident.objects.filter(in_district).delete()
    Household.objects.filter(house__building__grid__path__startswith=PREFIX).delete()
    Unit.objects.filter(in_district).delete()
    PiiGrant.objects.filter(
        Q(user__in=users) | Q(granted_by__in=users) | Q(area__path__startswith=PREFIX)
    ).delete()
    from gridgov.registry.jobs import delete_files

    for job in ImportJob.objects.filter(Q(created_by__in=users) | Q(area__path__startswith=PREFIX)):
        delete_files(job)
        job.delete()


def _delete_history(object_type: str, ids: list[int]) -> None:
    """The history is append-only for every role; the demo reset removes its own with plain SQL."""
    table = connection.ops.quote_name(RecordHistory._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor.execute(
                f"DELETE FROM {table} WHERE object_type = %s AND object_id IN ({', '.join(['%s'] * len(chunk))})",  # noqa: S608
                [object_type, *chunk],
            )
    timeline.delete_heads(RecordHistory.chain_key_of(object_type, pk) for pk in ids)
