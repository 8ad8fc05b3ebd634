"""AB岗, the hand-overs: B's moves on A's cases are recorded as done for A (代 A); the notices B has not
read for A go back to A when A returns (those still needing action); the backup of a leave can change
while it runs, and A's to-dos and unread notices follow the new B at once (accounts/posts.py)."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from gridgov.accounts import posts
from gridgov.accounts.models import AuditEvent, Leave
from gridgov.accounts.roles import Role
from gridgov.cases.models import Case, Status, TimelineEvent
from gridgov.core import notifications, timeline
from gridgov.core.models import Notification
from gridgov.testing import A2, Api, assert_problem, build_world, cast, fresh_locator, make_user

from .test_posts import (
    POSTS,
    _handled_case,
    _leave,
    _locator,  # noqa: F401  (the autouse fixture: a fresh grid locator)
    _todo,
    _verify,
)


@pytest.fixture
def crew(db):
    world = build_world()
    people = cast(
        world, "staff_a", "staff_b", "worker_a1", "worker_a2", "resident",
        worker_a1={"display_name": "王网格"}, worker_a2={"display_name": "李网格"},
    )  # fmt: skip
    people.worker_a3 = make_user("worker_a3", Role.GRID_WORKER, area=world.grid_a2, display_name="赵网格")
    return people


def _pdf_text(r) -> str:
    from pypdf import PdfReader

    assert r.status_code == 200, r.content[:500]
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)


def _tell_a(crew, case: Case, kind: str = "rework") -> Notification:
    """A notice for A (worker_a1) about a case, written now (during a leave: delivered to the backup)."""
    facts = {"number": case.number, "reason": "照片不清楚"}
    return notifications.notify([crew.worker_a1], kind, facts, case)[0]


def _close(case: Case, crew) -> None:
    Case.objects.filter(pk=case.pk).update(status=Status.CLOSED, closed_at=timezone.now())


# --- 1. the timeline says whom B acted for ------------------------------------------------------------
def test_bs_move_on_as_case_is_recorded_for_a_and_bs_own_move_is_not(crew):
    mine = _handled_case(crew, A2, "A2 网格的井盖松动")  # B's own grid
    theirs = _handled_case(crew)  # A's grid
    _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2)
    assert _verify(crew.worker_a2, theirs).status_code == 200
    assert _verify(crew.worker_a2, mine).status_code == 200

    def verify_event(case):
        events = Api(crew.worker_a2).get(f"/api/v1/cases/cases/{case.pk}/timeline").json()
        return next(e for e in events if e["action"] == "verify")

    assert verify_event(theirs)["actor"] == "李网格"
    assert verify_event(theirs)["on_behalf_of"] == "王网格"
    assert verify_event(mine)["on_behalf_of"] is None
    # The earlier moves of community staff (their own posts) say nothing either.
    assert {e["on_behalf_of"] for e in Api(crew.staff_a).get(f"/api/v1/cases/cases/{theirs.pk}").json()["timeline"]
            if e["action"] != "verify"} == {None}  # fmt: skip
    # The printed 工单 names both.
    text = _pdf_text(
        Api(crew.staff_a, language="zh-hans").get(f"/api/v1/cases/cases/{theirs.pk}/print/work-order")
    )
    assert "李网格（代王网格）" in text.replace(" ", "").replace("\n", "")
    # The mark is part of the event's hash: the chains still verify, and changing it is detected.
    assert timeline.verify().ok
    event = TimelineEvent.objects.get(case=theirs, action="verify")
    table = connection.ops.quote_name(TimelineEvent._meta.db_table)
    with connection.cursor() as cursor:  # around the append-only model, as an intruder would
        cursor.execute(
            f"UPDATE {table} SET on_behalf_of_id = %s WHERE id = %s", [crew.worker_a3.pk, event.pk]
        )  # noqa: S608
    assert not timeline.verify().ok


def test_a_move_b_could_make_in_their_own_right_is_not_marked(crew):
    """B is community staff of A's community too: acting in their own right, not for A."""
    theirs = _handled_case(crew)
    _leave(Api(crew.staff_a), crew.staff_a, crew.worker_a1)  # staff_a away, worker_a1 stands in
    r = _verify(crew.worker_a1, theirs)  # worker_a1's own grid: their own move
    assert r.status_code == 200, r.content
    assert TimelineEvent.objects.get(case=theirs, action="verify").on_behalf_of_id is None


# --- 2. A returns: the unread notices that still need action are A's again ----------------------------
def test_when_a_comes_back_early_the_unread_open_notices_go_back_to_a(crew):
    open_case, closed_case, read_case = _handled_case(crew), _handled_case(crew), _handled_case(crew)
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    Notification.objects.all().delete()
    pending = _tell_a(crew, open_case)
    done = _tell_a(crew, closed_case)
    seen = _tell_a(crew, read_case)
    assert {n.recipient_id for n in (pending, done, seen)} == {crew.worker_a2.pk}
    assert Api(crew.worker_a2).post(f"/api/v1/notifications/{seen.pk}/read").status_code in (200, 204)
    _close(closed_case, crew)

    assert Api(crew.worker_a1).post(f"{POSTS}/leaves/{leave_id}/end").status_code == 200
    pending.refresh_from_db(), done.refresh_from_db(), seen.refresh_from_db()
    # A sees the one still to act on, as A's own notice (no 代 mark), unread.
    assert pending.recipient_id == crew.worker_a1.pk and pending.read_at is None
    assert "on_behalf_of" not in pending.facts and not pending.message.startswith("【代")
    listed = Api(crew.worker_a1).get("/api/v1/notifications").json()["items"]
    assert [n["id"] for n in listed] == [pending.pk]
    # B keeps what B read, and the one about a case already closed (nothing left to do for A).
    assert done.recipient_id == seen.recipient_id == crew.worker_a2.pk
    assert {n["id"] for n in Api(crew.worker_a2).get("/api/v1/notifications").json()["items"]} >= {
        done.pk,
        seen.pk,
    }
    assert pending.pk not in {
        n["id"] for n in Api(crew.worker_a2).get("/api/v1/notifications").json()["items"]
    }


def test_when_a_leave_runs_out_the_sweep_hands_the_notices_back_once(crew):
    case = _handled_case(crew)
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    Notification.objects.all().delete()
    pending = _tell_a(crew, case)
    assert pending.recipient_id == crew.worker_a2.pk
    assert posts.hand_back_due() == 0  # still on leave: nothing moves
    Leave.objects.filter(pk=leave_id).update(ends_at=timezone.now())
    assert posts.hand_back_due() == 1
    pending.refresh_from_db()
    assert pending.recipient_id == crew.worker_a1.pk
    assert Leave.objects.get(pk=leave_id).handed_back_at is not None
    assert posts.hand_back_due() == 0  # once


# --- 3. changing B during the leave ------------------------------------------------------------------
def _change(who, leave_id: int, backup, language: str = "en"):
    return Api(who, language=language).send("patch", f"{POSTS}/leaves/{leave_id}", {"backup_id": backup.pk})


def test_a_changes_the_backup_and_the_to_dos_and_unread_notices_follow_the_new_b(crew):
    case = _handled_case(crew)
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    Notification.objects.all().delete()
    unread = _tell_a(crew, case)
    assert case.pk in _todo(crew.worker_a2)

    r = _change(crew.worker_a1, leave_id, crew.worker_a3)
    assert r.status_code == 200, r.content
    assert r.json()["backup"]["name"] == "赵网格" and r.json()["state"] == "active"
    # The to-dos moved at once.
    assert _todo(crew.worker_a3) == {case.pk: "王网格"}
    assert case.pk not in _todo(crew.worker_a2)
    assert_problem(_verify(crew.worker_a2, case), 404)
    # The unread notice moved, still marked as meant for A, in the new B's list only.
    unread.refresh_from_db()
    assert unread.recipient_id == crew.worker_a3.pk and unread.facts["on_behalf_of_id"] == crew.worker_a1.pk
    assert unread.message.startswith("【代王网格】")
    assert unread.pk not in {
        n["id"] for n in Api(crew.worker_a2).get("/api/v1/notifications").json()["items"]
    }
    # New notices for A reach the new B; both Bs were told.
    assert _tell_a(crew, case).recipient_id == crew.worker_a3.pk
    assert Notification.objects.filter(recipient=crew.worker_a3, kind="accounts.leave_cover").exists()
    told = Notification.objects.get(recipient=crew.worker_a2, kind="accounts.cover_moved")
    assert "赵网格" in told.message and "王网格" in told.message
    assert AuditEvent.objects.filter(object_type="leave", object_id=str(leave_id)).count() == 2
    # The new B acts for A, and the timeline says so.
    assert _verify(crew.worker_a3, case).status_code == 200
    assert TimelineEvent.objects.get(case=case, action="verify").on_behalf_of_id == crew.worker_a1.pk


def test_the_manager_changes_a_workers_backup_and_an_outsider_cannot(crew):
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    assert_problem(_change(crew.staff_b, leave_id, crew.worker_a3), 404)
    assert Leave.objects.get(pk=leave_id).backup_id == crew.worker_a2.pk
    assert _change(crew.staff_a, leave_id, crew.worker_a3).status_code == 200
    assert Leave.objects.get(pk=leave_id).backup_id == crew.worker_a3.pk


def test_a_planned_leaves_backup_changes_too(crew):
    start, end = timezone.now() + dt.timedelta(days=2), timezone.now() + dt.timedelta(days=4)
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2, start=start.isoformat(),
                      end=end.isoformat()).json()["id"]  # fmt: skip
    r = _change(crew.worker_a1, leave_id, crew.worker_a3)
    assert r.status_code == 200 and r.json()["state"] == "planned"


@pytest.mark.parametrize(
    ("backup", "status", "zh"),
    [
        ("worker_a1", 422, "不能"),  # B = A
        ("resident", 422, "同一社区"),  # no staff post
        ("staff_b", 422, "同一社区"),  # staff, but of another community
    ],
)
def test_a_wrong_backup_is_refused_in_chinese_and_nothing_changes(crew, backup, status, zh):
    case = _handled_case(crew)
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    Notification.objects.all().delete()
    unread = _tell_a(crew, case)
    r = _change(crew.worker_a1, leave_id, getattr(crew, backup), language="zh-hans")
    problem = assert_problem(r, status)
    assert problem["errors"][0]["field"] == "backup_id" and zh in problem["errors"][0]["message"]
    assert Leave.objects.get(pk=leave_id).backup_id == crew.worker_a2.pk
    unread.refresh_from_db()
    assert unread.recipient_id == crew.worker_a2.pk
    assert AuditEvent.objects.filter(object_type="leave", object_id=str(leave_id)).count() == 1


def test_a_backup_busy_then_is_refused(crew):
    leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
    # worker_a3 is away from tomorrow (staff_a stands in for them), within worker_a1's leave.
    start = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert _leave(Api(crew.worker_a3), crew.worker_a3, crew.staff_a, start=start).status_code == 201
    r = _change(crew.worker_a1, leave_id, crew.worker_a3, language="zh-hans")
    assert "请假" in assert_problem(r, 422, field="backup_id", language="zh")["detail"]
    assert Leave.objects.get(pk=leave_id).backup_id == crew.worker_a2.pk


def test_the_backup_of_an_ended_leave_cannot_change(crew):
    api = Api(crew.worker_a1)
    leave_id = _leave(api, crew.worker_a1, crew.worker_a2).json()["id"]
    assert api.post(f"{POSTS}/leaves/{leave_id}/end").status_code == 200
    r = _change(crew.worker_a1, leave_id, crew.worker_a3, language="zh-hans")
    assert "已经结束" in assert_problem(r, 409)["detail"]
    assert Leave.objects.get(pk=leave_id).backup_id == crew.worker_a2.pk
    assert_problem(
        Api(crew.worker_a1).send("patch", f"{POSTS}/leaves/999999", {"backup_id": crew.worker_a3.pk}), 404
    )


# --- concurrency ------------------------------------------------------------------------------------
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel writers need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_changes_at_once_one_after_the_other_and_the_notices_end_with_the_last_b():
    with fresh_locator():
        world = build_world()
        crew = cast(world, "staff_a", "worker_a1", "worker_a2", "resident")
        third = make_user("worker_a3", Role.GRID_WORKER, area=world.grid_a2)
        fourth = make_user("worker_a4", Role.GRID_WORKER, area=world.grid_a2)
        case = _handled_case(crew)
        leave_id = _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2).json()["id"]
        unread = _tell_a(crew, case)
        barrier = threading.Barrier(2)
        results: list[int] = []

        def attempt(backup):
            try:
                barrier.wait()
                results.append(_change(crew.staff_a, leave_id, backup).status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=attempt, args=(b,)) for b in (third, fourth)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200, 200]
        final = Leave.objects.get(pk=leave_id).backup_id
        unread.refresh_from_db()
        assert unread.recipient_id == final  # no move lost
        changes = AuditEvent.objects.filter(object_type="leave", object_id=str(leave_id)).order_by("id")
        befores = [e.detail.get("before") for e in changes][1:]
        # The second change saw the first one's B (serialised on the leave's row): no lost update.
        assert (
            befores[0] == "worker_a2"
            and befores[1] in {"worker_a3", "worker_a4"}
            and befores[1] != befores[0]
        )


# --- 4. one notice for A and B together reaches B once, whatever dicts carry the facts ----------------
def test_the_same_notice_for_a_and_b_reaches_b_once_when_the_facts_are_equal_copies(crew):
    _leave(Api(crew.worker_a1), crew.worker_a1, crew.worker_a2)
    Notification.objects.all().delete()
    notifications.notify_many(
        [
            notifications.Notice(crew.worker_a1.pk, "accounts.backup_set", {"name": "张三"}),
            notifications.Notice(crew.worker_a2.pk, "accounts.backup_set", {"name": "张三"}),
            notifications.Notice(crew.worker_a1.pk, "accounts.backup_set", {"name": "李四"}),
        ]
    )
    rows = list(Notification.objects.order_by("id").values_list("recipient_id", "facts__name"))
    assert rows == [(crew.worker_a2.pk, "张三"), (crew.worker_a2.pk, "李四")]
