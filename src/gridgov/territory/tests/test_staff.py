"""Who serves a grid (GET /api/v1/territory/areas/{code}/staff): block chief, grid chief, grid workers,
building heads with their buildings, phones masked by the kernel's rule (revealed only where the reader's
personal-data policy covers the area, and logged), who is on leave and who stands in, and the grid's
residents and households from the registry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.accounts.models import Leave, Membership, Post
from gridgov.accounts.roles import Role
from gridgov.registry.models import Household, PiiAccessLog, Resident
from gridgov.testing import Api, build_world, cast, make_user


@pytest.fixture
def world(db):
    return build_world(geometry=False)


@pytest.fixture
def crew(world):
    people = cast(
        world, "admin", "staff_a", "staff_b", "worker_a1", "head_a1", "dept_cg", "resident",
        worker_a1={"phone": "13800001111", "display_name": "王网格"},
        head_a1={"phone": "13900002222", "display_name": "赵楼长"},
    )  # fmt: skip
    Membership.objects.filter(user=people.worker_a1).update(post=Post.GRID_CHIEF)
    Membership.objects.filter(user=people.head_a1).update(building=world.a1)
    people.second = make_user(
        "second", Role.GRID_WORKER, area=world.grid_a1, phone="13700003333", display_name="李网格"
    )
    people.chief = make_user(
        "chief", Role.BLOCK_CHIEF, area=world.block_a, phone="13600004444", display_name="周街长"
    )
    people.elsewhere = make_user("elsewhere", Role.GRID_WORKER, area=world.grid_b1, display_name="外社区")
    return people


def _staff(user, code, **params):
    return Api(user).get(f"/api/v1/territory/areas/{code}/staff", params)


def test_the_grid_page_lists_its_chief_workers_block_chief_and_building_heads_with_masked_phones(crew, world):
    household = Household.objects.create(house=world.a1.houses.first())
    for i in range(3):
        Resident.objects.create(name=f"居民{i}", id_enc=b"x", id_hash=f"h{i}", pii_key="k", residence_type="registered",
                                building=world.a1, household=household)  # fmt: skip
    Resident.objects.create(name="已搬走", id_enc=b"x", id_hash="gone", pii_key="k", residence_type="registered",
                            building=world.a1, moved_out=dt.date(2025, 1, 1))  # fmt: skip
    r = _staff(crew.staff_a, world.grid_a1.code)
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["area_code"], body["residents"], body["households"]) == (world.grid_a1.code, 3, 1)
    posts = {(m["post"], m["name"]): m for m in body["members"]}
    assert set(posts) == {
        ("block_chief", "周街长"), ("grid_chief", "王网格"), ("grid_worker", "李网格"), ("building_head", "赵楼长"),
    }  # fmt: skip
    assert posts[("grid_chief", "王网格")]["phone"] == "138****1111"
    assert posts[("building_head", "赵楼长")]["building_code"] == world.a1.code
    assert not any(m["phone_revealed"] for m in body["members"])
    assert body["revealable"] is True
    assert not PiiAccessLog.objects.exists()  # reading the masked list logs nothing


def test_reveal_unmasks_only_with_the_policy_and_is_logged(crew, world):
    body = _staff(crew.staff_a, world.grid_a1.code, reveal="true").json()
    phones = {m["name"]: m["phone"] for m in body["members"]}
    assert phones["王网格"] == "13800001111" and phones["赵楼长"] == "13900002222"
    log = PiiAccessLog.objects.get()
    assert log.object_type == "staff" and log.fields == ["phone"] and log.count == 4
    assert PiiAccessLog.objects.count() == 1
    # The system administrator neither (三权分立).
    body = _staff(crew.admin, world.grid_a1.code, reveal="true").json()
    assert not any(m["phone_revealed"] for m in body["members"])


@pytest.mark.parametrize("who", ["staff_b", "resident", "elsewhere", "dept_cg"])
def test_another_communitys_staff_is_not_found(crew, world, who):
    """A department sees the area tree through its jurisdiction, but not who works there."""
    r = _staff(getattr(crew, who), world.grid_a1.code)
    assert r.status_code == 404 and r["Content-Type"].startswith("application/problem+json")


def test_the_block_and_community_pages_list_the_grids_posts_and_who_stands_in(crew, world):
    Leave.objects.create(user=crew.worker_a1, backup=crew.second, starts_at=timezone.now() - dt.timedelta(hours=1),
                         ends_at=timezone.now() + dt.timedelta(days=1))  # fmt: skip
    body = _staff(crew.staff_a, world.comm_a.code).json()
    posts = {(m["post"], m["name"]) for m in body["members"]}
    assert ("community_staff", "staff_a") in posts and ("grid_chief", "王网格") in posts
    assert not any(m["post"] == "building_head" for m in body["members"])  # buildings on the grid page only
    assert ("grid_worker", "外社区") not in posts
    away = next(m for m in body["members"] if m["name"] == "王网格")
    assert away["on_leave"]["backup_name"] == "李网格"
    assert _staff(crew.worker_a1, world.block_a.code).status_code == 404  # a grid worker sees their grid only
