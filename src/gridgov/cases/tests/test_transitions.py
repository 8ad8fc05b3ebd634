"""Every action of the transition table × every role: `allowed_actions` and the POST agree with each
other and with the intended matrix (2xx when allowed; 403 when the case is visible but the move is not
theirs; 404 when the case is outside the user's scope)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.cases import selectors, workflow
from gridgov.cases.models import Case, Step, TimelineEvent
from gridgov.cases.tests.conftest import A2, ROLES, Api, act, report, step_of

# The administrators take no business action (三权分立): "admin" is in no allowed set.


def _submitted(p, w):
    return report(p.resident, category_code="E0102")


def _accepted(p, w):
    case = _submitted(p, w)
    return act("accept", case, p.staff_a)


def _escalated(p, w):
    case = _accepted(p, w)
    return act("escalate", case, p.staff_a, reason="社区无法协调")


def _whistled(p, w):
    case = _accepted(p, w)
    return act("whistle", case, p.staff_a, departments=["440309-CG"])


def _in_progress(p, w):
    case = _whistled(p, w)
    return act("report_in", case, p.dept_cg)


def _community_handling(p, w):
    return act("community_handle", _accepted(p, w), p.staff_a)


def _handled(p, w):
    return act("handle", _in_progress(p, w), p.dept_cg, note="已清理")


def _verified(p, w):
    return act("verify", _handled(p, w), p.worker_a1, passed=True)


def _closed(p, w):
    return act("close", _verified(p, w), p.staff_a)


def _unsatisfied(p, w):
    return act("return_visit", _closed(p, w), p.resident, satisfaction=1, comment="垃圾又堆起来了")


def _near_deadline(p, w):
    case = _whistled(p, w)
    past = timezone.now() - dt.timedelta(hours=1)
    Step.objects.filter(case=case).update(report_in_due_at=past)
    return case


def _suspension_requested(p, w):
    return act("request_suspension", _whistled(p, w), p.staff_a, reason="等待产权核实")


def _suspended(p, w):
    return act("suspend", _suspension_requested(p, w), p.sub_staff)


def _in_days(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def _merge_target(p, w):
    other = report(p.resident2, point=A2, category_code="E0102", description="路边垃圾")
    act("accept", other, p.staff_a)
    return other.number


# action variant → (case builder, payload builder, roles allowed)
SCENARIOS = {
    "accept": (_submitted, lambda c, p, w: {"category_code": "E0102"}, {"staff_a"}),
    "reject": (_submitted, lambda c, p, w: {"reason": "重复上报"}, {"staff_a"}),
    "merge": (_accepted, lambda c, p, w: {"target_case_number": _merge_target(p, w)}, {"staff_a"}),
    "community_handle": (_accepted, lambda c, p, w: {}, {"staff_a"}),
    "whistle": (_accepted, lambda c, p, w: {"departments": ["440309-CG", "440309-GA"]}, {"staff_a"}),
    "whistle@subdistrict": (
        _escalated,
        lambda c, p, w: {"departments": ["440309-CG"]},
        {"sub_staff"},
    ),
    "report_in": (_whistled, lambda c, p, w: {}, {"dept_cg"}),
    "handle": (_in_progress, lambda c, p, w: {"note": "已清理完毕"}, {"dept_cg"}),
    "handle@community": (_community_handling, lambda c, p, w: {"note": "社区已处理"}, {"staff_a"}),
    "return": (_whistled, lambda c, p, w: {"reason": "不属于本部门职责"}, {"dept_cg"}),
    "reassign": (
        _whistled,
        lambda c, p, w: {"step_id": step_of(c, w.cg).pk, "departments": ["440309-XF"]},
        {"staff_a"},
    ),
    "verify": (_handled, lambda c, p, w: {"passed": True}, {"worker_a1"}),
    "close": (_verified, lambda c, p, w: {}, {"staff_a"}),
    "return_visit": (
        _closed,
        lambda c, p, w: {"satisfaction": 4, "comment": "满意", "visit_method": "phone"},
        {"resident", "staff_a"},
    ),
    "verify@fail": (_handled, lambda c, p, w: {"passed": False, "note": "仍有垃圾"}, {"worker_a1"}),
    "follow_up": (_unsatisfied, lambda c, p, w: {"note": "已上门沟通并再次清理"}, {"staff_a"}),
    "supervise": (
        _near_deadline,
        lambda c, p, w: {"level": "yellow"},
        {"staff_a", "sub_staff", "leader"},
    ),
    "escalate": (_accepted, lambda c, p, w: {"reason": "需要街道协调"}, {"staff_a"}),
    "escalate@subdistrict": (_escalated, lambda c, p, w: {"reason": "需要区级协调"}, {"sub_staff"}),
    "request_suspension": (
        _whistled,
        lambda c, p, w: {"reason": "等待鉴定"},
        {"staff_a", "dept_cg"},
    ),
    "suspend": (_suspension_requested, lambda c, p, w: {}, {"sub_staff", "leader"}),
    "resume": (_suspended, lambda c, p, w: {}, {"sub_staff", "leader"}),
    "note": (
        _whistled,
        lambda c, p, w: {"note": "已联系产权单位"},
        {"staff_a", "dept_cg", "worker_a1"},
    ),
    "defer": (
        _whistled,
        lambda c, p, w: {"reason": "需纳入年度维修计划", "until": _in_days(60)},
        {"sub_staff", "leader"},
    ),
}
# Users who cannot see a case of community A at all (→ 404 rather than 403).
BLIND = {"staff_b", "worker_a2", "dept_ga", "resident2"}


def test_every_action_has_a_scenario():
    assert {k.split("@")[0] for k in SCENARIOS} == set(workflow.ACTIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_allowed_actions_and_post_agree(scenario, role, people, world):
    build, payload, allowed_roles = SCENARIOS[scenario]
    action = scenario.split("@")[0]
    case = build(people, world)
    case = Case.objects.get(pk=case.pk)
    user = getattr(people, role)
    body = payload(case, people, world)
    allowed = action in workflow.allowed_actions(case, user)
    assert allowed == (role in allowed_roles), f"{action} for {role}: table says {allowed}"

    before_version = case.version
    before_events = TimelineEvent.objects.filter(case=case).count()
    response = Api(user).action(case, action, version=before_version, **body)
    if allowed:
        assert response.status_code == 200, response.content
        data = response.json()
        assert data["version"] == before_version + 1
        assert TimelineEvent.objects.filter(case=case).count() == before_events + 1
        assert TimelineEvent.objects.filter(case=case).last().action == action
    else:
        visible = selectors.visible_cases(user).filter(pk=case.pk).exists()
        if role in BLIND and role != "dept_ga":
            assert not visible
        expected = 403 if visible else 404
        assert response.status_code == expected, response.content
        case.refresh_from_db()
        assert case.version == before_version
        assert TimelineEvent.objects.filter(case=case).count() == before_events


def test_detail_lists_exactly_the_allowed_actions(people, world):
    case = _whistled(people, world)
    assert Api(people.dept_cg).get(f"/cases/{case.pk}").json()["allowed_actions"] == [
        "report_in",
        "return",
        "request_suspension",
        "note",
    ]
    staff = Api(people.staff_a).get(f"/cases/{case.pk}").json()["allowed_actions"]
    assert staff == ["reassign", "escalate", "request_suspension", "note"]
    assert Api(people.resident).get(f"/cases/{case.pk}").json()["allowed_actions"] == []


def test_detail_sends_each_allowed_action_with_its_required_fields(people, world):
    """The action forms ask for what the transition table requires, as it applies to this case."""
    bare = report(people.resident)  # no category yet
    detail = Api(people.staff_a).get(f"/cases/{bare.pk}").json()
    actions = {a["action"]: a for a in detail["actions"]}
    assert [a["action"] for a in detail["actions"]] == detail["allowed_actions"]
    assert actions["accept"] == {"action": "accept", "required": ["category_code"], "one_of": []}
    assert actions["reject"]["required"] == ["reason"]
    assert actions["merge"]["required"] == ["target_case_number"]

    # A category chosen at intake need not be chosen again when accepting.
    categorised = _submitted(people, world)
    detail = Api(people.staff_a).get(f"/cases/{categorised.pk}").json()
    assert {a["action"]: a["required"] for a in detail["actions"]}["accept"] == []

    # Whistle: departments or a whistle item, unless the category names the department to dispatch to.
    no_department = act("accept", report(people.resident, category_code="G0602"), people.staff_a)
    whistle = {
        a["action"]: a for a in Api(people.staff_a).get(f"/cases/{no_department.pk}").json()["actions"]
    }
    assert whistle["whistle"] == {
        "action": "whistle",
        "required": [],
        "one_of": [["departments", "whistle_item_id"]],
    }
    with_department = Api(people.staff_a).get(f"/cases/{_accepted(people, world).pk}").json()
    assert {a["action"]: a for a in with_department["actions"]}["whistle"]["one_of"] == []

    # Department handlers: handle needs a note, return a reason; the action's answer carries them too.
    case = _in_progress(people, world)
    handler = Api(people.dept_cg).get(f"/cases/{case.pk}").json()
    assert {a["action"]: a["required"] for a in handler["actions"]} == {
        "handle": ["note"],
        "return": ["reason"],
        "request_suspension": ["reason"],
        "note": ["note"],
    }
    answer = Api(people.dept_cg).action(case, "handle", note="已清理").json()
    assert answer["status"] == "handled"
    assert [a["action"] for a in answer["actions"]] == answer["allowed_actions"]
    assert Api(people.resident).get(f"/cases/{case.pk}").json()["actions"] == []


@pytest.mark.parametrize(
    "build, action, body",
    [
        (_submitted, "whistle", {"departments": ["440309-CG"]}),
        (_accepted, "accept", {"category_code": "E0102"}),
        (_closed, "close", {}),
        (_handled, "report_in", {}),
        (_accepted, "supervise", {"level": "red"}),  # nothing near its deadline
        (_suspended, "handle", {"note": "x"}),
    ],
)
def test_wrong_state_is_a_conflict(build, action, body, people, world):
    case = build(people, world)
    response = Api(people.staff_a).action(case, action, **body)
    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith("application/problem+json")


def test_unknown_action_is_not_found(people, world):
    case = _submitted(people, world)
    response = Api(people.staff_a).action(case, "teleport")
    assert response.status_code == 404
    assert response.json()["status"] == 404
