"""The counts kept per area: after a random mix of writes (creates, inspections changing grades, bulk
changes refreshed) they equal a GROUP BY over the raw houses and rooms at every level of the area tree;
the figures read them; two inspections in one grid at once both count (PostgreSQL, threads); buildings
moving to another grid in a re-division move their counts; the rebuild command."""

from __future__ import annotations

import random
import threading
from collections import Counter
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count

from gridgov.rental import counts, receivers
from gridgov.rental.models import ChecklistItem, RentalCount, RentalHouse, RentalRoom, TenancyCategory
from gridgov.rental.seed import seed
from gridgov.rental.tests.conftest import Api, all_pass, inspect, make_rental
from gridgov.territory.models import Area, Building, House
from gridgov.territory.signals import Redraw, grids_redrawn

# Results the default rules grade as each grade.
RESULTS = {
    "relaxed": all_pass(),
    "watch": all_pass(H01="fail", S01="fail"),
    "strict": all_pass(C05="fail"),
    "prohibited": all_pass(C01="fail"),
}


def raw_counts(path: str) -> Counter:
    """(grade, category code) → houses and rooms, by a GROUP BY over the active houses and their rooms."""
    out: Counter = Counter()
    active = RentalHouse.objects.filter(is_active=True, house__building__grid__path__startswith=path)
    for r in active.values("grade", "category__code").annotate(n=Count("id")).order_by():
        out[("houses", r["grade"], r["category__code"])] += r["n"]
    rooms = RentalRoom.objects.filter(rental_house__in=active)
    for r in (
        rooms.values("rental_house__grade", "rental_house__category__code").annotate(n=Count("id")).order_by()
    ):
        out[("rooms", r["rental_house__grade"], r["rental_house__category__code"])] += r["n"]
    return out


def kept_counts(area: Area) -> Counter:
    out: Counter = Counter()
    for grade, category, houses, rooms in RentalCount.objects.filter(area=area).values_list(
        "grade", "category__code", "houses", "rooms"
    ):
        out[("houses", grade, category)] += houses
        out[("rooms", grade, category)] += rooms
    return +out  # rows at zero are no difference


def assert_every_level_true() -> None:
    for area in Area.objects.all():
        assert kept_counts(area) == +raw_counts(area.path), area.code


def _free_houses(world, community: str) -> list[House]:
    return list(
        House.objects.filter(
            building__grid__path__startswith=world.communities[community].area.path, rental__isnull=True
        ).order_by("pk")
    )


def test_a_random_mix_of_writes_keeps_every_level_true(world, people, today):
    rng = random.Random(15)
    staff = {"a": people.staff_a, "b": people.staff_b}
    made = []
    for step in range(40):
        key = rng.choice("ab")
        action = rng.random()
        if action < 0.4 or not made:
            house = rng.choice(_free_houses(world, key))
            category = rng.choice(["whole", "shared", "group", "family_hotel", "dormitory"])
            rooms = [f"R{i}" for i in range(rng.randint(0, 5))]
            made.append((key, make_rental(staff[key], house.building, house.room, category, rooms=rooms)))
        elif action < 0.85:
            key, rental = rng.choice(made)
            inspect(staff[key], rental, today, results=RESULTS[rng.choice(list(RESULTS))])
        else:  # a bulk writer: rooms added and a house deactivated straight in the tables, then refreshed
            key, rental = rng.choice(made)
            n = RentalRoom.objects.filter(rental_house=rental).count()
            RentalRoom.objects.bulk_create(
                [RentalRoom(rental_house=rental, number=f"X{n + i}") for i in range(2)]
            )
            RentalHouse.objects.filter(pk=rental.pk).update(rooms_count=n + 2, is_active=rng.random() < 0.7)
            counts.refresh([rental.house.building.grid_id])
        if step % 10 == 9:
            assert_every_level_true()
    assert_every_level_true()
    # A bulk writer adds houses straight to the table (like the demo or an import), then refreshes their grids.
    free = _free_houses(world, "b")[:2]
    whole = TenancyCategory.objects.get(code="whole")
    bulk = RentalHouse.objects.bulk_create(
        [RentalHouse(house=h, category=whole, rooms_count=1, grade="strict") for h in free]
    )
    RentalRoom.objects.bulk_create([RentalRoom(rental_house=r, number="1") for r in bulk])
    counts.refresh([h.building.grid_id for h in free] + [world.comm_b.pk])  # a non-grid id is ignored
    assert_every_level_true()
    counts.refresh([h.building.grid_id for h in free])  # twice: nothing changes
    assert_every_level_true()

    # The figures read the kept rows: the same numbers as the raw GROUP BY at every level of the drill-down.
    api = Api(people.sub_staff)
    for code in (world.sub.code, world.comm_a.code, world.block_a.code, world.comm_b.code):
        body = api.get("/figures", {"area": code}).json()
        for row in [body["area"], *body["children"]]:
            area = Area.objects.get(code=row["code"])
            raw = raw_counts(area.path)
            assert row["houses"] == sum(v for (what, _g, _c), v in raw.items() if what == "houses")
            assert row["rooms"] == sum(v for (what, _g, _c), v in raw.items() if what == "rooms")
            for grade, got in row["grades"].items():
                g = "" if grade == "ungraded" else grade
                assert got["houses"] == sum(v for (w, gg, _c), v in raw.items() if w == "houses" and gg == g)
                assert got["rooms"] == sum(v for (w, gg, _c), v in raw.items() if w == "rooms" and gg == g)
            for category, got in row["categories"].items():
                assert got["houses"] == sum(
                    v for (w, _g, c), v in raw.items() if w == "houses" and c == category
                )


def test_rebuild_and_its_command_recompute_everything(world, people, today):
    rental = make_rental(people.staff_a, world.a1, "0201", "group", rooms=["1", "2", "3"])
    inspect(people.staff_a, rental, today, results=RESULTS["strict"])
    RentalCount.objects.all().delete()
    RentalCount.objects.create(area=world.grid_b1, grade="", category=rental.category, houses=4, rooms=4)
    out = StringIO()
    call_command("rebuild_rental_counts", stdout=out)
    assert "1 houses" in out.getvalue()
    assert_every_level_true()
    assert kept_counts(world.district) == Counter(
        {("houses", "strict", "group"): 1, ("rooms", "strict", "group"): 3}
    )


def test_buildings_moving_in_a_redivision_move_their_counts(world, people, today):
    make_rental(people.staff_a, world.a1, "0201", "whole", rooms=["1", "2"])
    other = make_rental(people.staff_a, world.communities["a"].buildings[1], "0101", "shared", rooms=["1"])
    inspect(people.staff_a, other, today, results=RESULTS["watch"])
    assert_every_level_true()
    # The adoption moves building A1's buildings to grid A2 and announces it; the counts follow.
    Building.objects.filter(grid=world.grid_a1).update(grid=world.grid_a2)
    assert any(r[0][0] == "rental.grids_redrawn" for r in grids_redrawn.receivers)  # connected in ready()
    receivers.grids_redrawn(
        Redraw, redraw=Redraw(
            proposal_id=0, area=world.block_a, actor=people.admin, request=None,
            old_grids=[world.grid_a1, world.grid_a2], new_grids=[(world.grid_a2, None)], retired=[world.grid_a1],
            successor={world.grid_a1.pk: world.grid_a2},
        )
    )  # fmt: skip
    assert kept_counts(world.grid_a1) == Counter()
    assert kept_counts(world.grid_a2)[("houses", "", "whole")] == 1
    assert_every_level_true()
    # A grid moved to another parent: the old parent loses it, the new one gains it.
    block2 = Area.objects.create(
        parent=world.comm_a, level="block", code=world.block_a.code[:-1] + "9", name="第二片区"
    )
    world.grid_a2.parent = block2
    world.grid_a2.save()
    receivers.grids_redrawn(
        Redraw, redraw=Redraw(
            proposal_id=0, area=world.comm_a, actor=people.admin, request=None,
            old_grids=[world.grid_a2], new_grids=[(world.grid_a2, None)], retired=[], successor={},
        )
    )  # fmt: skip
    assert kept_counts(world.block_a) == Counter()
    assert_every_level_true()


@pytest.mark.skipif(connection.vendor == "sqlite", reason="threads need separate PostgreSQL connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_inspections_in_one_grid_at_once_both_count(world, people, today):
    if not ChecklistItem.objects.exists():  # the seed is data; a flush by an earlier test may have removed it
        seed(apps)
    houses = [
        make_rental(people.staff_a, world.a1, room, "whole", rooms=["1", "2"])
        for room in ("0201", "0202", "0301", "0302")
    ]
    houses.append(
        make_rental(people.staff_a, world.communities["a"].buildings[1], "0101", "shared", rooms=["1"])
    )
    grades = ["strict", "prohibited", "watch", "strict", "prohibited"]
    barrier = threading.Barrier(len(houses))
    errors: list[str] = []

    def worker(rental, grade) -> None:
        try:
            barrier.wait()
            inspect(people.staff_a, rental, today, results=RESULTS[grade])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=pair) for pair in zip(houses, grades, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_every_level_true()
    assert kept_counts(world.grid_a1)[("houses", "prohibited", "whole")] == 1
    assert kept_counts(world.district)[("houses", "strict", "whole")] == 2
    assert kept_counts(world.district)[("houses", "", "whole")] == 0
