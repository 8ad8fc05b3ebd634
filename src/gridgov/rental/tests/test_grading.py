"""Grade from score and overrides (a table), versioned rules, and the cadence across holidays, weekends,
categories and grade changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gridgov.core import worktime
from gridgov.core.models import WorkdayOverride
from gridgov.rental import selectors, services
from gridgov.rental.models import ChecklistItem, GradingRules, Inspection, TenancyCategory
from gridgov.rental.tests.conftest import Api, all_pass, inspect
from gridgov.testing import assert_problem

# failed items, n/a items, flags → score, grade, overrides applied (the default rules, version 1: weights
# sum to 100; relaxed from 90, watch from 75, strict below).
GRADES = [
    ([], [], [], "100.0", "relaxed", []),
    (["S01"], [], [], "97.0", "relaxed", []),
    (["H01"], [], [], "90.0", "relaxed", []),  # the threshold itself is reached
    (["H01", "S01"], [], [], "87.0", "watch", []),
    (["H01", "H02"], [], [], "80.0", "watch", []),
    (["H01", "H02", "S01", "S02"], [], [], "74.0", "strict", []),
    (["H01"], ["H05"], [], "89.1", "watch", []),  # n/a items leave the score's base
    ([], ["H05"], [], "100.0", "relaxed", []),
    (["C01"], [], [], "90.0", "prohibited", ["not_lettable"]),  # may not be let: 禁止 whatever the score
    (["C05"], [], [], "92.0", "strict", ["group_rental"]),  # suspected 群租: red at once
    ([], [], ["group_rental_suspected"], "100.0", "strict", ["group_rental"]),
    ([], [], ["over_capacity"], "100.0", "strict", ["group_rental"]),
    (["C01"], [], ["refused"], "90.0", "prohibited", ["not_lettable", "refused"]),  # the stricter wins
    ([], [], ["refused"], "100.0", "strict", ["refused"]),
]


@pytest.mark.parametrize(("failed", "na", "flags", "score", "grade", "applied"), GRADES)
def test_grade_from_score_and_overrides(db, failed, na, flags, score, grade, applied):
    rules = selectors.current_rules()
    results = {c: "pass" for c in ChecklistItem.objects.values_list("code", flat=True)}
    results.update({c: "fail" for c in failed} | {c: "na" for c in na})
    weights = dict(ChecklistItem.objects.values_list("code", "weight"))
    got = services.score_of(results, weights)
    assert got == Decimal(score)
    assert services.grade_for(rules, got, set(failed), set(flags)) == (grade, applied)


def test_refusing_inspection_needs_no_results_and_grades_red(rental, people):
    inspection = inspect(people.worker_a1, rental, results={}, flags=["refused"])
    assert (inspection.score, inspection.grade, inspection.overrides_applied) == (0, "strict", ["refused"])


def test_tenants_above_the_limit_grade_red(rental, people):
    rental.capacity_limit = 0
    rental.save()
    inspection = inspect(people.worker_a1, rental)
    assert inspection.flags == ["over_capacity"] and inspection.grade == "strict"


NEW_RULES = {
    "thresholds": [{"min_score": 95, "grade": "relaxed"}, {"min_score": 80, "grade": "watch"},
                   {"min_score": 0, "grade": "strict"}],
    "overrides": [{"code": "not_lettable", "grade": "prohibited", "items": ["C01"], "flags": []}],
    "visit_days": {"relaxed": 28, "watch": 14, "strict": 7, "prohibited": 7},
    "red_grades": ["strict", "prohibited"],
    "red_streak": 3,
}  # fmt: skip


def test_new_rules_are_a_new_version_and_old_inspections_keep_theirs(rental, people, today):
    old = inspect(people.worker_a1, rental, today - dt.timedelta(days=7), results=all_pass(H01="fail"))
    assert (old.rules.version, old.grade) == (1, "relaxed")

    body = Api(people.admin).ok(Api(people.admin).post("/rules", {**NEW_RULES, "note": "提高宽管门槛"}), 201)
    assert body["version"] == 2 and body["thresholds"][0]["min_score"] == 95

    new = inspect(people.worker_a1, rental, today, results=all_pass(H01="fail"))
    assert (new.rules.version, new.grade) == (2, "watch")
    old.refresh_from_db()
    assert (old.rules.version, old.grade, old.score) == (1, "relaxed", Decimal("90.0"))
    assert GradingRules.objects.get(version=1).thresholds[0]["min_score"] == 90  # unchanged
    detail = Api(people.staff_a).get(f"/houses/{rental.pk}").json()
    assert [(i["rules_version"], i["grade"]) for i in detail["inspections"]] == [(2, "watch"), (1, "relaxed")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"thresholds": [{"min_score": 50, "grade": "relaxed"}]}, "thresholds"),  # does not reach 0
        ({"thresholds": [{"min_score": 0, "grade": "green"}]}, "thresholds"),
        ({"overrides": [{"code": "x", "grade": "strict", "items": ["NOPE"]}]}, "overrides.0"),
        ({"visit_days": {"relaxed": 0, "watch": 14, "strict": 7, "prohibited": 7}}, "visit_days"),
        ({"red_streak": 1}, "red_streak"),
    ],
)
def test_bad_rules_are_refused_in_chinese_and_add_no_version(people, change, field):
    response = Api(people.admin, language="zh-hans").post("/rules", {**NEW_RULES, **change})
    assert_problem(response, 422, field=field, language="zh")
    assert GradingRules.objects.count() == 1


def test_only_the_administrator_publishes_rules(people):
    for user in (people.staff_a, people.worker_a1, people.leader):
        assert_problem(Api(user).post("/rules", NEW_RULES), 403)
    assert GradingRules.objects.count() == 1


# --- cadence ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("on", "grade", "category", "due"),
    [
        (dt.date(2026, 12, 4), "strict", "whole", dt.date(2026, 12, 11)),  # weekly
        (dt.date(2026, 12, 4), "watch", "whole", dt.date(2026, 12, 18)),  # every 2 weeks
        (dt.date(2026, 11, 13), "relaxed", "whole", dt.date(2026, 12, 4)),  # every 3 weeks
        (dt.date(2026, 11, 14), "relaxed", "whole", dt.date(2026, 12, 7)),  # Saturday → Monday
        (dt.date(2026, 9, 10), "relaxed", "whole", dt.date(2026, 10, 8)),  # 国庆 1–7 October → the 8th
        (dt.date(2026, 9, 19), "relaxed", "whole", dt.date(2026, 10, 10)),  # 调休: Saturday 10 October works
        (dt.date(2026, 12, 4), "relaxed", "group", dt.date(2026, 12, 11)),  # 群租 weekly: the category wins
        (dt.date(2026, 12, 4), "relaxed", "dormitory", dt.date(2026, 12, 18)),
        (dt.date(2026, 12, 4), "strict", "dormitory", dt.date(2026, 12, 11)),  # the grade wins
    ],
)
def test_next_due_day(db, on, grade, category, due):
    rules = selectors.current_rules()
    assert services.next_due(on, grade, TenancyCategory.objects.get(code=category), rules) == due


@pytest.fixture
def fresh_calendar():
    worktime.clear_cache()
    yield
    worktime.clear_cache()


def test_next_due_day_follows_the_workday_overrides(db, fresh_calendar):
    WorkdayOverride.objects.create(day=dt.date(2026, 12, 11), is_workday=False, name="地方调整")
    rules = selectors.current_rules()
    whole = TenancyCategory.objects.get(code="whole")
    assert services.next_due(dt.date(2026, 12, 4), "strict", whole, rules) == dt.date(2026, 12, 14)


def test_a_grade_change_changes_the_next_due_day(rental, people):
    inspect(people.worker_a1, rental, dt.date(2026, 11, 13))
    assert (rental.grade, rental.next_due_on) == ("relaxed", dt.date(2026, 12, 4))
    inspect(people.worker_a1, rental, dt.date(2026, 12, 4), results=all_pass(H01="fail", S01="fail"))
    assert (rental.grade, rental.next_due_on) == ("watch", dt.date(2026, 12, 18))
    inspect(people.worker_a1, rental, dt.date(2026, 12, 4), results=all_pass(C05="fail"))
    assert (rental.grade, rental.next_due_on) == ("strict", dt.date(2026, 12, 11))
    assert Inspection.objects.filter(rental_house=rental).count() == 3


def test_the_back_office_edits_the_lists_and_only_shows_the_rules(db, client):
    from gridgov.accounts.models import User

    client.force_login(User.objects.create_superuser("root", password="Root-Passw0rd!"))
    rules = GradingRules.objects.get(version=1)
    item = ChecklistItem.objects.get(code="H01")
    for url in (
        "/admin/rental/tenancycategory/",
        "/admin/rental/checklistitem/",
        f"/admin/rental/checklistitem/{item.pk}/change/",
        "/admin/rental/gradingrules/",
        f"/admin/rental/gradingrules/{rules.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/rental/gradingrules/add/").status_code == 403
    assert client.get(f"/admin/rental/gradingrules/{rules.pk}/delete/").status_code == 403
    client.post(f"/admin/rental/gradingrules/{rules.pk}/change/", {"red_streak": 9})
    rules.refresh_from_db()
    assert rules.red_streak == 3
