"""AB岗: a person's backup (B) stands in while they (A) are on leave — A's notices and to-dos go to B,
B may act on them, and everything goes back to A when the leave ends (accounts/posts.py)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from gridgov.accounts.models import AuditEvent, Backup, Leave, Membership
from gridgov.accounts.roles import Role
from gridgov.cases import services as case_services
from gridgov.core import notifications
from gridgov.core.models import Notification
from gridgov.core.principal import principal_for
from gridgov.testing import A1, A2, Api, assert_problem, build_world, cast, fresh_locator, make_user

POSTS = "/api/v1/accounts/posts"


@pytest.fixture(autouse=True)
def _locator():
    with fresh_locator() as loc:
        yield loc


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def crew(world):
    return cast(
        world, "admin", "staff_a", "staff_b", "worker_a1", "worker_a2", "resident",
        worker_a1={"display_name": "王网格"}, worker_a2={"display_name": "李网格"},
    )  # fmt: skip


def _at(**delta) -> str:
    return (timezone.now() + dt.timedelta(**delta)).isoformat()


def _leave(api: Api, user, backup=None, *, start=None, end=None, **extra):
    body = {"starts_at": start or _at(minutes=-1), "ends_at": end or _at(days=3), **extra}
    if backup is not None:
        body["backup_id"] = backup.pk
    return api.post(f"{POSTS}/{user.pk}/leaves", body)


def _handled_case(crew, point=A1, text="楼道堆放杂物堵塞通道"):
    case, _ = case_services.intake(actor=crew.resident, lng=point[0], lat=point[1], description=text,
                                   category_code="E0102")  # fmt: skip
    for action, fields in (("accept", {}), ("community_handle", {}), ("handle", {"note": "已清理"})):
        case.refresh_from_db()
        case = case_services.perform(
            action, case_id=case.pk, version=case.version, actor=crew.staff_a, fields=fields
        )
    return case


def _todo(user) -> dict[int, str]:
    r = Api(user).get("/api/v1/cases/cases", {"todo": "true"})
    assert r.status_code == 200, r.content
    return {c["id"]: c["on_behalf_of"] for c in r.json()["items"]}


def _verify(user, case):
    case.refresh_from_db()
    return Api(user).post(
        f"/api/v1/cases/cases/{case.pk}/actions/verify", {"version": case.version, "passed": True}
    )


# --- setting the backup -----------------------------------------------------------------------------
def test_a_worker_sets_their_own_backup_and_the_backup_is_told(crew):
    r = Api(crew.worker_a1).send(
        "post", f"{POSTS}/{crew.worker_a1.pk}/backup", {"backup_id": crew.worker_a2.pk}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["backup"]["name"] == "李网格"
    assert {p["id"] for p in body["candidates"]} >= {crew.worker_a2.pk, crew.staff_a.pk}
    assert crew.staff_b.pk not in {p["id"] for p in body["candidates"]}  # another community
    assert Notification.objects.filter(recipient=crew.worker_a2, kind="accounts.backup_set").count() == 1
    assert AuditEvent.objects.filter(object_type="backup", object_id=str(crew.worker_a1.pk)).exists()


@pytest.mark.parametrize(
    "who, status", [("staff_a", 200), ("staff_b", 404), ("worker_a2", 404), ("resident", 404), ("admin", 404)]
)
def test_only_the_person_or_their_manager_sets_a_backup(crew, who, status):
    r = Api(getattr(crew, who)).send(
        "post", f"{POSTS}/{crew.worker_a1.pk}/backup", {"backup_id": crew.worker_a2.pk}
    )
    assert r.status_code == status, r.content
    assert Backup.objects.filter(user=crew.worker_a1).exists() == (status == 200)


@pytest.mark.parametrize("backup", ["staff_b", "admin", "resident", "worker_a1"])
def test_a_backup_outside_the_community_or_not_staff_is_refused(crew, backup):
    r = Api(crew.worker_a1, language="zh-hans").send(
        "post", f"{POSTS}/{crew.worker_a1.pk}/backup", {"backup_id": getattr(crew, backup).pk}
    )
    assert_problem(r, 422, field="backup_id", language="zh")
    assert not Backup.objects.exists()


# --- recording leave --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "start, end, field",
    [
        ({"days": 2}, {"days": 1}, "ends_at"),  # ends before it starts
        ({"days": 1}, {"days": 1}, "ends_at"),  # no length
        ({"days": -5}, {"days": -1}, "ends_at"),  # over already
        ({"days": 0}, {"days": 400}, "ends_at"),  # longer than a year
    ],
)
def test_an_invalid_leave_period_is_refused_with_nothing_recorded(crew, start, end, field):
    now = timezone.now()
    start, end = ((now + dt.timedelta(**d)).isoformat() for d in (start, end))
    r = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2, start=start, end=end)
    assert_problem(r, 422, field=field, language="en")
    assert not Leave.objects.exists()


def test_overlapping_leaves_are_refused(crew):
    api = Api(crew.worker_a1, language="zh-hans")
    assert _leave(api, crew.worker_a1, crew.worker_a2, start=_at(days=1), end=_at(days=5)).status_code == 201
    body = assert_problem(_leave(api, crew.worker_a1, crew.worker_a2, start=_at(days=4), end=_at(days=8)),
                          422, field="starts_at", language="zh")  # fmt: skip
    assert "请假" in body["errors"][0]["message"]
    # Back to back is fine.
    assert _leave(api, crew.worker_a1, crew.worker_a2, start=_at(days=5), end=_at(days=6)).status_code == 201
    # The backup cannot be away at the same time, and a person standing in cannot take leave then.
    r = _leave(Api(crew.worker_a2), crew.worker_a2, crew.staff_a, start=_at(days=2), end=_at(days=3))
    assert_problem(r, 422, field="starts_at")
    r = _leave(Api(crew.staff_a), crew.staff_a, crew.worker_a1, start=_at(days=2), end=_at(days=3))
    assert_problem(r, 422, field="backup_id")
    assert Leave.objects.count() == 2


def test_a_leave_without_a_backup_needs_the_standing_one(crew):
    api = Api(crew.worker_a1)
    assert_problem(_leave(api, crew.worker_a1), 422, field="backup_id")
    api.send("post", f"{POSTS}/{crew.worker_a1.pk}/backup", {"backup_id": crew.worker_a2.pk})
    r = _leave(api, crew.worker_a1)
    assert r.status_code == 201, r.content
    assert r.json()["backup"]["id"] == crew.worker_a2.pk and r.json()["state"] == "active"


def test_a_manager_records_a_workers_leave_and_outsiders_cannot(crew):
    assert _leave(Api(crew.staff_b), crew.worker_a1, crew.worker_a2).status_code == 404
    assert _leave(Api(crew.worker_a2), crew.worker_a1, crew.worker_a2).status_code == 404
    r = _leave(Api(crew.staff_a), crew.worker_a1, crew.worker_a2, note="年休假")
    assert r.status_code == 201, r.content
    leave = Leave.objects.get()
    assert (leave.created_by, leave.note) == (crew.staff_a, "年休假")
    assert AuditEvent.objects.filter(
        object_type="leave", object_id=str(leave.pk), username="staff_a"
    ).exists()
    cover = Notification.objects.get(recipient=crew.worker_a2, kind="accounts.leave_cover")
    assert "王网格" in cover.message


# --- notices ----------------------------------------------------------------------------------------
def test_a_notice_for_a_reaches_b_during_the_leave_and_a_again_after(crew):
    api = Api(crew.worker_a1)
    leave_id = _leave(api, crew.worker_a1, crew.worker_a2).json()["id"]
    Notification.objects.all().delete()
    notifications.notify([crew.worker_a1], "accounts.backup_set", {"name": "张三"})
    note = Notification.objects.get()
    assert note.recipient_id == crew.worker_a2.pk
    assert note.facts["on_behalf_of_id"] == crew.worker_a1.pk
    assert note.message.startswith("【代王网格】")  # the stand-in's notice says for whom (zh-hans default)
    listed = Api(crew.worker_a2).get("/api/v1/notifications").json()["items"][0]
    assert "On behalf of 王网格" in str(listed)
    # A notice to A and B together reaches B once.
    Notification.objects.all().delete()
    notifications.notify([crew.worker_a1, crew.worker_a2], "accounts.backup_set", {"name": "张三"})
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [crew.worker_a2.pk]
    # A is back early: A's notices are A's again.
    assert api.post(f"{POSTS}/leaves/{leave_id}/end").status_code == 200
    Notification.objects.all().delete()
    notifications.notify([crew.worker_a1], "accounts.backup_set", {"name": "张三"})
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [crew.worker_a1.pk]


def test_a_planned_leave_changes_nothing_before_it_starts(crew):
    _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2, start=_at(days=2), end=_at(days=4))
    Notification.objects.all().delete()
    notifications.notify([crew.worker_a1], "accounts.backup_set", {"name": "张三"})
    assert Notification.objects.get().recipient_id == crew.worker_a1.pk
    assert principal_for(crew.worker_a2).covering == frozenset()


# --- to-dos and permissions -------------------------------------------------------------------------
def test_b_sees_and_acts_on_as_to_do_during_the_leave_and_not_after(crew):
    mine = _handled_case(crew, A2, "A2 网格的井盖松动")  # worker_a2's own to-do
    first, second = _handled_case(crew), _handled_case(crew, text="路灯不亮")
    assert _todo(crew.worker_a2) == {mine.pk: ""}
    assert _verify(crew.worker_a2, first).status_code == 404  # not B's grid: not even visible

    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    assert _todo(crew.worker_a2) == {mine.pk: "", first.pk: "王网格", second.pk: "王网格"}
    r = _verify(crew.worker_a2, first)
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "verified"
    # B reads A's grid meanwhile, not the other community's.
    assert Api(crew.worker_a2).get(f"/api/v1/cases/cases/{second.pk}").status_code == 200

    assert Api(crew.worker_a1).post(f"{POSTS}/leaves/{leave_id}/end").status_code == 200
    assert _todo(crew.worker_a2) == {mine.pk: ""}
    assert_problem(_verify(crew.worker_a2, second), 404)
    assert Api(crew.worker_a2).get(f"/api/v1/cases/cases/{second.pk}").status_code == 404
    assert _todo(crew.worker_a1) == {second.pk: ""}


def test_only_staff_posts_are_delegated_never_an_administrators(crew, world):
    # A grid worker who also (wrongly) holds an old party-member membership: only the staff post moves.
    Membership.objects.create(user=crew.worker_a1, role=Role.PARTY_MEMBER, area=world.grid_a1)
    _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2)
    p = principal_for(type(crew.worker_a2).objects.get(pk=crew.worker_a2.pk))
    assert p.covering == {crew.worker_a1.pk}
    delegated = {(m.role, m.area_id) for m in p.memberships if m.on_behalf_of}
    assert delegated == {(Role.GRID_WORKER, world.grid_a1.pk)}
    # An administrator cannot be anyone's backup, so cannot hold a colleague's post.
    boss = make_user("boss", Role.SECURITY_ADMIN)
    Leave.objects.create(user=crew.staff_a, backup=boss, starts_at=timezone.now() - dt.timedelta(hours=1),
                         ends_at=timezone.now() + dt.timedelta(hours=1))  # fmt: skip
    assert principal_for(boss).roles == {Role.SECURITY_ADMIN}


def test_ending_a_leave_that_is_over_is_a_conflict_and_cancelling_a_planned_one_works(crew):
    api = Api(crew.worker_a1)
    planned = _leave(api, crew.worker_a1, crew.worker_a2, start=_at(days=2), end=_at(days=4)).json()
    r = api.post(f"{POSTS}/leaves/{planned['id']}/end")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert_problem(api.post(f"{POSTS}/leaves/{planned['id']}/end"), 409)
    assert Api(crew.staff_b).post(f"{POSTS}/leaves/{planned['id']}/end").status_code == 404
    post = api.get(f"{POSTS}/{crew.worker_a1.pk}").json()
    assert [x["state"] for x in post["leaves"]] == ["cancelled"]


def test_the_post_lists_leaves_and_whom_one_stands_in_for(crew):
    _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2)
    mine = Api(crew.worker_a2).get(f"{POSTS}/{crew.worker_a2.pk}").json()
    assert [c["user"]["name"] for c in mine["covering"]] == ["王网格"]
    theirs = Api(crew.staff_a).get(f"{POSTS}/{crew.worker_a1.pk}").json()
    assert theirs["on_leave"]["backup"]["name"] == "李网格" and theirs["may_manage_others"] is True


# --- concurrency ------------------------------------------------------------------------------------
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_overlapping_leaves_recorded_at_once_give_one_leave():
    world = build_world()
    crew = cast(world, "staff_a", "worker_a1", "worker_a2")
    barrier = threading.Barrier(4)
    results: list[int] = []

    def attempt(days: int):
        try:
            barrier.wait()
            results.append(_leave(Api(crew.staff_a), crew.worker_a1, crew.worker_a2,
                                  start=_at(days=days), end=_at(days=days + 5)).status_code)  # fmt: skip
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(d,)) for d in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 422, 422, 422]
    assert Leave.objects.count() == 1


# --- naming the posts: grid chief, a building head's building ---------------------------------------
def test_the_security_administrator_names_a_grid_chief_and_a_building_heads_building(crew, world):
    security = make_user("security", Role.SECURITY_ADMIN)
    head = make_user("head", Role.BUILDING_HEAD, area=world.grid_a1)
    worker = Membership.objects.get(user=crew.worker_a1)
    url = f"{POSTS}/memberships/{worker.pk}"
    assert_problem(Api(crew.staff_a).post(url, {"post": "grid_chief"}), 403)
    r = Api(security).post(url, {"post": "grid_chief"})
    assert r.status_code == 200 and r.json()["post"] == "grid_chief", r.content
    assert AuditEvent.objects.filter(
        object_type="membership", object_id=str(worker.pk), username="security"
    ).exists()
    head_m = Membership.objects.get(user=head)
    assert_problem(
        Api(security).post(f"{POSTS}/memberships/{head_m.pk}", {"post": "grid_chief"}), 422, field="post"
    )
    other_grid = world.grid_b1.buildings.first().code
    r = Api(security).post(f"{POSTS}/memberships/{head_m.pk}", {"post": "", "building_code": other_grid})
    assert_problem(r, 422, field="building_code")
    r = Api(security).post(f"{POSTS}/memberships/{head_m.pk}", {"post": "", "building_code": world.a1.code})
    assert r.status_code == 200 and r.json()["building_code"] == world.a1.code
    head_m.refresh_from_db()
    assert head_m.building_id == world.a1.pk
    # The administration screen reads them back on the user's memberships.
    shown = {m["id"]: m for m in Api(security).get(f"/api/v1/accounts/users/{head.pk}").json()["memberships"]}
    assert (shown[head_m.pk]["post"], shown[head_m.pk]["building_code"]) == ("", world.a1.code)
    shown = Api(security).get(f"/api/v1/accounts/users/{crew.worker_a1.pk}").json()["memberships"]
    assert [m["post"] for m in shown if m["id"] == worker.pk] == ["grid_chief"]
