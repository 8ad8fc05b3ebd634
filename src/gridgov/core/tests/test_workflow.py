"""The workflow engine on a tiny table of its own, run against a real model (a case): the versioned take,
the checks and their order, the refusal hook, guards, blocked objects, allowed actions, the record hook
and the Markdown table."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.db.models import Q

from gridgov.accounts.models import User
from gridgov.cases.models import Case
from gridgov.core import workflow as engine
from gridgov.core.errors import Conflict, Forbidden, NotFound
from gridgov.core.workflow import Rule, Workflow, anyone, named, transition
from gridgov.territory.models import Area

pytestmark = pytest.mark.django_db


def _principal(user, **roles_paths):
    p = SimpleNamespace(user=user, roles=set(roles_paths), paths=defaultdict(list))
    p.area_ids, p.org_ids = defaultdict(set), defaultdict(set)
    for role, path in roles_paths.items():
        if path:
            p.paths[role].append(path)
    return p


def _inside(case, principal, role) -> bool:
    return any(case.area.path.startswith(p) for p in principal.paths.get(role, ()))


named("inside", _inside)


def _reporter(case, principal, role) -> bool:
    return case.created_by_id == principal.user.pk


named("creator", _reporter)


@pytest.fixture
def tiny(db):
    district = Area.objects.create(level="district", code="990001", name="测试区")
    grid = Area.objects.create(level="grid", code="990001001", name="测试格", parent=district)
    other = Area.objects.create(level="district", code="990002", name="别区")
    clerk = User.objects.create(username="clerk")
    stranger = User.objects.create(username="stranger")
    boss = User.objects.create(username="boss")
    principals = {
        clerk.pk: _principal(clerk, community_staff=district.path),
        stranger.pk: _principal(stranger, community_staff=other.path),
        boss.pk: _principal(boss, admin=None),
    }
    recorded: list[dict] = []

    def record(obj, action, actor, *, from_status, note="", data=None, **extra):
        recorded.append({"action": action, "from": from_status, "to": obj.status, "data": data, **extra})

    wf = Workflow(
        model=Case,
        transitions=(
            transition("open", {"submitted"}, "accepted", [Rule("community_staff", _inside)], ("reason",)),
            transition(
                "poke",
                {"accepted"},
                None,
                [Rule("admin", anyone), Rule("creator", _reporter, membership=False)],
                guard=lambda c: c.priority == "urgent",
                guard_text="urgent only",
            ),
            transition("thaw", {"accepted"}, None, [Rule("admin")], while_blocked=True),
        ),
        loader=lambda user: principals[user.pk],
        record=record,
        blocked=lambda c: c.suspended,
        select_related=("area",),
    )
    case = Case.objects.create(
        number="T-1", channel="window", created_by=clerk, area=grid, holder_area=district, description="x"
    )
    return SimpleNamespace(
        wf=wf, case=case, clerk=clerk, stranger=stranger, boss=boss, recorded=recorded, district=district
    )


def test_take_moves_the_version_and_refuses_a_stale_one(tiny):
    with transaction.atomic():
        case = tiny.wf.take(tiny.case.pk, 1)
    assert case.version == 2 and Case.objects.get(pk=tiny.case.pk).version == 2
    with pytest.raises(Conflict) as stale:
        tiny.wf.take(tiny.case.pk, 1)  # what the client saw before the move above
    assert stale.value.status == 409 and stale.value.extra == {"current_version": 2}
    assert Case.objects.get(pk=tiny.case.pk).version == 2  # nothing overwritten
    with pytest.raises(NotFound) as missing:
        tiny.wf.take(987654321, 1)
    assert missing.value.status == 404
    with pytest.raises(TypeError):
        tiny.wf.take(tiny.case.pk)  # a versioned model needs the version the client saw


def test_unknown_action_is_404(tiny):
    with pytest.raises(NotFound) as err:
        tiny.wf.require(tiny.case, "fly", tiny.clerk)
    assert err.value.status == 404 and "fly" in err.value.detail


def test_wrong_status_is_409_before_the_role_is_looked_at(tiny):
    with pytest.raises(Conflict) as err:
        tiny.wf.require(tiny.case, "thaw", tiny.stranger)  # submitted: thaw needs accepted
    assert err.value.status == 409


def test_wrong_person_is_403_through_the_one_refusal_hook(tiny, monkeypatch):
    seen = []
    real = engine._forbidden

    def spy(workflow, obj, action, user, message=None):
        seen.append((action, user.username))
        return real(workflow, obj, action, user, message)

    monkeypatch.setattr(engine, "_forbidden", spy)
    with pytest.raises(Forbidden) as err:
        tiny.wf.require(tiny.case, "open", tiny.stranger)  # staff, but of another district
    assert err.value.status == 403
    with pytest.raises(Forbidden):
        tiny.wf.require_role("thaw", tiny.clerk)  # no admin rule admits community staff at all
    tiny.wf.require_role("poke", tiny.clerk)  # "creator" needs no membership: may try
    with pytest.raises(Forbidden):
        raise tiny.wf.refuse(tiny.case, "open", tiny.clerk, "not yours")
    assert seen == [("open", "stranger"), ("thaw", "clerk"), ("open", "clerk")]
    assert tiny.wf.require(tiny.case, "open", tiny.clerk).target == "accepted"


def test_guard_and_blocked_objects(tiny):
    Case.objects.filter(pk=tiny.case.pk).update(status="accepted")
    case = Case.objects.get(pk=tiny.case.pk)
    with pytest.raises(Conflict):
        tiny.wf.require(case, "poke", tiny.boss)  # the guard: urgent only
    case.priority = "urgent"
    assert tiny.wf.require(case, "poke", tiny.boss).action == "poke"
    assert tiny.wf.require(case, "poke", tiny.clerk).action == "poke"  # the creator, by condition alone
    with pytest.raises(Forbidden):
        tiny.wf.require(case, "poke", tiny.stranger)
    case.suspended = True
    with pytest.raises(Conflict):
        tiny.wf.require(case, "poke", tiny.boss)  # blocked
    assert tiny.wf.require(case, "thaw", tiny.boss).action == "thaw"  # allowed while blocked


def test_allowed_actions_follow_status_roles_guard_and_block(tiny):
    case = tiny.case
    assert tiny.wf.allowed_actions(case, tiny.clerk) == ["open"]
    assert tiny.wf.allowed_actions(case, tiny.stranger) == []
    assert tiny.wf.allowed_actions(case, tiny.boss) == []
    case.status, case.priority = "accepted", "urgent"
    assert tiny.wf.allowed_actions(case, tiny.boss) == ["poke", "thaw"]
    case.suspended = True
    assert tiny.wf.allowed_actions(case, tiny.boss) == ["thaw"]


def test_move_sets_the_status_saves_and_records_once(tiny):
    with transaction.atomic():
        case = tiny.wf.take(tiny.case.pk, 1)
        tiny.wf.require(case, "open", tiny.clerk)
        case.description = "changed"
        tiny.wf.move(case, "open", tiny.clerk, data={"why": "test"}, update_fields=["description"])
    saved = Case.objects.get(pk=tiny.case.pk)
    assert (saved.status, saved.description, saved.version) == ("accepted", "changed", 2)
    assert tiny.recorded == [
        {"action": "open", "from": "submitted", "to": "accepted", "data": {"why": "test"}}
    ]
    # a status the service computed wins over the table's; an unchanged-status action keeps it
    tiny.wf.move(saved, "thaw", tiny.boss, status="whistled")
    tiny.wf.move(saved, "poke", tiny.boss)
    assert Case.objects.get(pk=tiny.case.pk).status == "whistled"
    assert [r["to"] for r in tiny.recorded] == ["accepted", "whistled", "whistled"]


def test_a_workflow_without_version_only_locks(tiny):
    wf = Workflow(model=Area, transitions=(), version_field=None, loader=lambda u: None)
    with transaction.atomic():
        assert wf.take(tiny.district.pk).pk == tiny.district.pk
    with pytest.raises(NotFound):
        wf.take(987654321)


def test_a_table_names_each_action_once(tiny):
    t = transition("a", {"x"}, "y", [Rule("admin")])
    with pytest.raises(ValueError):
        Workflow(model=Case, transitions=(t, t))


def test_markdown_table(tiny):
    assert tiny.wf.actions == ("open", "poke", "thaw")
    assert tiny.wf.markdown_table() == "\n".join(
        [
            "| action | from | to | who may (role: condition) | required | guard |",
            "| --- | --- | --- | --- | --- | --- |",
            "| `open` | submitted | accepted | community_staff: inside | reason | — |",
            "| `poke` | accepted | (unchanged) | admin: any<br>creator: creator | — | urgent only |",
            "| `thaw` | accepted | (unchanged) | admin: any | — | — |",
        ]
    )


def test_advance_is_one_compare_and_set_for_system_moves(tiny):
    """A system move: only from a source status and while `when` holds; the version moves on; two
    racing callers cannot both win; nothing is recorded (no user)."""
    pk = tiny.case.pk
    assert not tiny.wf.advance(pk, "open", when=Q(priority="urgent"))  # `when` does not hold
    assert Case.objects.get(pk=pk).status == "submitted"
    assert tiny.wf.advance(pk, "open", when=Q(status="submitted"))
    assert not tiny.wf.advance(pk, "open")  # the second caller finds it moved already
    case = Case.objects.get(pk=pk)
    assert (case.status, case.version) == ("accepted", 2) and tiny.recorded == []
    assert tiny.wf.advance(pk, "poke", priority="urgent")  # target unchanged: only the fields
    assert Case.objects.get(pk=pk).status == "accepted" and Case.objects.get(pk=pk).priority == "urgent"
    with pytest.raises(NotFound):
        tiny.wf.advance(pk, "fly")
