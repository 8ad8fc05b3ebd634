"""The field-work tests: the small world of gridgov.testing, one user per role, and a helper to walk."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov import testing
from gridgov.testing import build_world, cast

NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)  # a Friday, 18:00 in Shenzhen


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def people(world):
    from gridgov.accounts.roles import Role
    from gridgov.testing import make_user

    p = cast(world, "admin", "sub_staff", "staff_a", "staff_b", "worker_a1", "worker_a2")
    p.chief_a = make_user("chief_a", Role.BLOCK_CHIEF, area=world.block_a)
    p.worker_b1 = make_user("worker_b1", Role.GRID_WORKER, area=world.grid_b1)
    return p


@pytest.fixture(autouse=True)
def now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def walk(
    start: dt.datetime,
    lng: float,
    lat: float,
    n: int,
    *,
    step_s: int = 10,
    dlng: float = 0.00005,
    dlat: float = 0.0,
):
    """n fixes walking east (≈ 5 m per step at Shenzhen's latitude) every step_s seconds."""
    return [
        {
            "t": (start + dt.timedelta(seconds=i * step_s)).isoformat(),
            "lng": lng + i * dlng,
            "lat": lat + i * dlat,
            "accuracy": 8,
        }
        for i in range(n)
    ]


class Api(testing.Api):
    prefix = "/api/v1/fieldwork"
