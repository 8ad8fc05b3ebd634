"""The rental tests: the small world of gridgov.testing (communities A and B), one user per role, a rental
house on building A1 room 0101 with a registered landlord and tenant, and helpers to inspect it."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgov import testing
from gridgov.core.tabular.validators import make_id_number
from gridgov.registry import services as registry
from gridgov.rental import services
from gridgov.rental.models import RentalHouse
from gridgov.rental.seed import ITEMS
from gridgov.testing import build_world, cast

TODAY = dt.date(2026, 12, 4)  # a Friday; tests that record inspections freeze "today" here


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def people(world):
    return cast(
        world, "admin", "leader", "sub_staff", "staff_a", "staff_b", "worker_a1", "worker_a2", "head_b1",
        "resident",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def today(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    return TODAY


def resident(staff, building, name: str, i: int, room: str = "0101"):
    return registry.create_resident(
        actor=staff,
        data={
            "name": name, "id_number": make_id_number("110105", dt.date(1980, 1, 1 + i), i, "M"), "gender": "M",
            "phone": f"1390000{i:04d}", "residence_type": "tenant", "building_code": building.code, "unit": "1",
            "room": room, "household_no": f"H{i}", "relation": "户主",
        },
    )  # fmt: skip


def house_of(building, room: str = "0101"):
    return building.houses.get(room=room)


def make_rental(actor, building, room: str = "0101", category: str = "whole", **fields) -> RentalHouse:
    return services.create_rental_house(
        actor=actor, house_id=house_of(building, room).pk, category_code=category, **fields
    )


@pytest.fixture
def rental(world, people):
    landlord = resident(people.staff_a, world.a1, "房东张三", 1, room="0102")
    rental = make_rental(
        people.staff_a, world.a1, landlord_resident_id=landlord.pk, filing_number="BA2026-0001",
        pledge_date=dt.date(2026, 1, 5), capacity_limit=4, rooms=["A", "B"],
    )  # fmt: skip
    tenant = resident(people.staff_a, world.a1, "租客李四", 2)
    services.add_tenant(
        actor=people.staff_a, rental_house_id=rental.pk, resident_id=tenant.pk, since=TODAY, room="A"
    )
    rental.refresh_from_db()
    return rental


def all_pass(**changes: str) -> dict[str, str]:
    results = {item[0]: "pass" for item in ITEMS}  # the default checklist (migration 0002)
    results.update(changes)
    return results


def inspect(actor, rental, on: dt.date | None = None, **kwargs):
    kwargs.setdefault("results", all_pass())
    inspection, _created = services.record_inspection(
        actor=actor, rental_house_id=rental.pk, inspected_on=on, **kwargs
    )
    rental.refresh_from_db()
    return inspection


class Api(testing.Api):
    prefix = "/api/v1/rental"
