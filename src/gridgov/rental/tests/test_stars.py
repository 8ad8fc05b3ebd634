"""Star safe buildings and compounds (星级安全楼栋 / 星级安全小区): the workflow as a table of every step from
every state (the illegal ones answer 400 and change nothing), stars from scores, criteria kept with each
assessment, validity and the review reminder, withdrawal, scope, the counts against the raw records, the
public list, and two awards at once."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections

from gridgov.accounts.roles import Role
from gridgov.core.errors import BadRequest
from gridgov.core.models import Notification
from gridgov.rental import services
from gridgov.rental.models import (
    ApplicationStatus,
    SiteStatus,
    StarApplication,
    StarAssessment,
    StarRules,
    StarSite,
    StarStep,
)
from gridgov.rental.star_seed import RULES_V1
from gridgov.rental.star_seed import seed as seed_star_rules
from gridgov.rental.tests.conftest import TODAY, Api
from gridgov.territory.models import Area
from gridgov.testing import cast, make_user

BUILDING_CRITERIA = [c for c in RULES_V1["criteria"] if c["applies"] in ("building", "both")]


def full(**changes: int) -> dict[str, int]:
    """Full marks on every building criterion of the default rules, with changes."""
    scores = {c["code"]: c["weight"] for c in BUILDING_CRITERIA}
    scores.update(changes)
    return scores


FOUR_STARS = full(S03=5)  # 90 of 100 → 4 stars
FIVE_STARS = full()
REFUSED = full(S01=10)  # a required criterion (一票否决) not met


@pytest.fixture
def heads(world):
    return cast(world, "head_a1")


def apply(user, building, note: str = ""):
    return Api(user).post("/stars", {"kind": "building", "building_code": building.code, "note": note})


def site_of(building) -> StarSite:
    return StarSite.objects.get(building=building)


def to_state(state: str, people, building) -> StarSite | None:
    """Bring a building's star site to a state of the workflow through the services."""
    if state == "none":
        return None
    staff, sub = people.staff_a, people.sub_staff
    services.apply_for_stars(actor=staff, kind="building", building_code=building.code)
    site = site_of(building)
    if state == "applied":
        return site
    if state == "refused":
        services.assess_stars(actor=sub, site_id=site.pk, scores=REFUSED)
        return site
    services.assess_stars(actor=sub, site_id=site.pk, scores=FOUR_STARS)
    if state == "assessed":
        return site
    services.award_stars(actor=sub, site_id=site.pk)
    if state == "awarded":
        return site
    if state == "reviewing":
        services.open_star_review(actor=staff, site_id=site.pk)
        return site
    assert state == "withdrawn"
    services.withdraw_stars(actor=sub, site_id=site.pk, reason="消防通道堵塞")
    return site


def snapshot(building) -> str:
    site = StarSite.objects.filter(building=building).values().first()
    rows = {
        "site": site,
        "applications": list(StarApplication.objects.filter(site__building=building).values()),
        "assessments": list(StarAssessment.objects.filter(application__site__building=building).values("pk")),
        "steps": StarStep.objects.filter(site__building=building).count(),
    }
    return json.dumps(rows, default=str, sort_keys=True)


ACTIONS = {
    "apply": lambda p, b, site: apply(p.staff_a, b),
    "assess": lambda p, b, site: Api(p.sub_staff).post(f"/stars/{site.pk}/assess", {"scores": FIVE_STARS}),
    "award": lambda p, b, site: Api(p.sub_staff).post(f"/stars/{site.pk}/award", {"note": ""}),
    "review": lambda p, b, site: Api(p.staff_a).post(f"/stars/{site.pk}/review", {"note": "到期复核"}),
    "withdraw": lambda p, b, site: Api(p.sub_staff).post(
        f"/stars/{site.pk}/withdraw", {"reason": "发生火灾"}
    ),
}
# state → the answer of each step from it (the site's status and stars after the legal ones)
TABLE = {
    "applied": {"apply": 400, "assess": 200, "award": 400, "review": 400, "withdraw": 400},
    "assessed": {"apply": 400, "assess": 400, "award": 200, "review": 400, "withdraw": 400},
    "refused": {"apply": 201, "assess": 400, "award": 400, "review": 400, "withdraw": 400},
    "awarded": {"apply": 400, "assess": 400, "award": 400, "review": 200, "withdraw": 200},
    "reviewing": {"apply": 400, "assess": 200, "award": 400, "review": 400, "withdraw": 200},
    "withdrawn": {"apply": 201, "assess": 400, "award": 400, "review": 400, "withdraw": 400},
}
CASES = [(state, action, code) for state, row in TABLE.items() for action, code in row.items()]


@pytest.mark.parametrize(("state", "action", "code"), CASES, ids=[f"{s}-{a}" for s, a, _ in CASES])
def test_every_step_from_every_state(people, world, state, action, code):
    site = to_state(state, people, world.a1)
    before = snapshot(world.a1)
    r = ACTIONS[action](people, world.a1, site)
    assert r.status_code == code, r.content
    if code >= 400:
        assert snapshot(world.a1) == before, "a refused step changed something"
        assert r.json()["detail"]
    else:
        assert StarStep.objects.filter(site__building=world.a1).count() > 0
        assert snapshot(world.a1) != before


def test_refused_messages_are_in_the_users_language(people, world):
    to_state("applied", people, world.a1)
    r = apply(people.staff_a, world.a1)
    assert r.status_code == 400
    assert "already has an open application" in r.json()["detail"]
    zh = Api(people.staff_a, language="zh-hans").post(
        "/stars", {"kind": "building", "building_code": world.a1.code}
    )
    assert zh.status_code == 400 and "已有未办结的申报" in zh.json()["detail"]


@pytest.mark.parametrize(
    ("scores", "stars", "score"),
    [
        (FIVE_STARS, 5, 100.0),
        (full(S07=5), 5, 95.0),
        (FOUR_STARS, 4, 90.0),
        (full(S03=0), 4, 85.0),
        (full(S03=0, S04=0), 3, 75.0),
        (full(S03=0, S04=0, S05=5), None, 70.0),  # below every threshold
        (REFUSED, None, 90.0),  # a required criterion unmet: refused whatever the score
    ],
)
def test_stars_from_scores(people, world, scores, stars, score):
    site = to_state("applied", people, world.a1)
    r = Api(people.sub_staff).post(f"/stars/{site.pk}/assess", {"scores": scores})
    assert r.status_code == 200, r.content
    assessment = r.json()["applications"][0]["assessment"]
    assert (assessment["stars"], assessment["score"]) == (stars, score)
    application = StarApplication.objects.get(site=site)
    assert application.status == (ApplicationStatus.ASSESSED if stars else ApplicationStatus.REFUSED)
    if stars is None:  # the applicant is told at once
        note = Notification.objects.get(recipient=people.staff_a, kind=services.STAR_RESULT_KIND)
        assert site.name in note.message


def test_bad_scores_are_422_and_change_nothing(people, world):
    site = to_state("applied", people, world.a1)
    before = snapshot(world.a1)
    api = Api(people.sub_staff)
    for scores in (full(S01=21), {"S01": 20}, full(X99=1), full(S08=10)):  # S08 is for compounds only
        r = api.post(f"/stars/{site.pk}/assess", {"scores": scores})
        assert r.status_code == 422, scores
    assert snapshot(world.a1) == before


def test_award_sets_validity_and_review_day_and_tells_the_applicant(people, world):
    site = to_state("assessed", people, world.a1)
    r = Api(people.sub_staff).post(f"/stars/{site.pk}/award", {"note": "同意"})
    body = r.json()
    assert r.status_code == 200 and body["stars"] == 4 and body["status"] == "awarded"
    assert body["valid_until"] == (TODAY + dt.timedelta(days=365)).isoformat()
    assert body["review_due_on"] == (TODAY + dt.timedelta(days=335)).isoformat()
    assert [h["action"] for h in body["history"]] == ["award", "assess", "apply"]
    assert body["history"][0]["actor"] and body["history"][0]["stars_after"] == 4
    note = Notification.objects.get(recipient=people.staff_a, kind=services.STAR_RESULT_KIND)
    assert "4" in note.message


def test_criteria_are_kept_with_each_assessment(people, world):
    site = to_state("awarded", people, world.a1)
    criteria = [dict(c) for c in RULES_V1["criteria"] if c["code"] != "S07"]
    criteria[0]["weight"] = 30
    criteria[0]["name"] = "消防设施（新标准）"
    r = Api(people.admin).post(
        "/stars/rules",
        {
            "criteria": criteria,
            "thresholds": RULES_V1["thresholds"],
            "validity_days": 730,
            "review_notice_days": 60,
        },
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    old = Api(people.staff_a).get(f"/stars/{site.pk}").json()["applications"][0]["assessment"]
    assert old["rules_version"] == 1
    assert {c["code"] for c in old["criteria"]} >= {"S07"}
    assert next(c for c in old["criteria"] if c["code"] == "S01")["weight"] == 20
    # A review is scored by version 2: S07 is gone, S01 weighs 30; the award lasts 730 days.
    services.open_star_review(actor=people.staff_a, site_id=site.pk)
    scores = {c["code"]: c["weight"] for c in criteria if c["applies"] in ("building", "both")}
    services.assess_stars(actor=people.sub_staff, site_id=site.pk, scores=scores)
    services.award_stars(actor=people.sub_staff, site_id=site.pk)
    page = Api(people.staff_a).get(f"/stars/{site.pk}").json()
    assert page["applications"][0]["assessment"]["rules_version"] == 2
    assert page["applications"][1]["assessment"]["rules_version"] == 1
    assert page["stars"] == 5 and page["valid_until"] == (TODAY + dt.timedelta(days=730)).isoformat()
    assert [h["action"] for h in page["history"]][:3] == ["award", "assess", "review"]


def test_bad_star_rules_are_refused(people, world):
    api = Api(people.admin)
    good = {"criteria": RULES_V1["criteria"], "thresholds": RULES_V1["thresholds"], "validity_days": 365,
            "review_notice_days": 30}  # fmt: skip
    for change in (
        {"criteria": []},
        {"criteria": [{**RULES_V1["criteria"][0], "weight": 0}]},
        {"criteria": [{**RULES_V1["criteria"][0], "name": "消防\x00"}, *RULES_V1["criteria"][1:]]},
        {"criteria": [{**RULES_V1["criteria"][0], "name_en": "   "}, *RULES_V1["criteria"][1:]]},
        {"thresholds": [{"stars": 6, "min_score": 90}]},
        {"thresholds": [{"stars": 5, "min_score": 80}, {"stars": 4, "min_score": 85}]},
        {"validity_days": 5},
        {"review_notice_days": 400},
    ):
        assert api.post("/stars/rules", {**good, **change}).status_code == 422, change
    assert StarRules.objects.count() == 1
    assert Api(people.staff_a).post("/stars/rules", good).status_code == 403


def test_a_review_keeps_raises_lowers_or_withdraws(people, world):
    site = to_state("awarded", people, world.a1)  # 4 stars
    sub = people.sub_staff
    for scores, stars in ((FOUR_STARS, 4), (FIVE_STARS, 5), (full(S03=0, S04=0), 3)):
        services.open_star_review(actor=people.staff_a, site_id=site.pk)
        services.assess_stars(actor=sub, site_id=site.pk, scores=scores)
        services.award_stars(actor=sub, site_id=site.pk)
        site.refresh_from_db()
        assert site.stars == stars
    services.open_star_review(actor=people.staff_a, site_id=site.pk)
    services.assess_stars(actor=sub, site_id=site.pk, scores=REFUSED)
    site.refresh_from_db()
    assert (site.status, site.stars) == (SiteStatus.WITHDRAWN, None)
    assert "S01" in site.withdrawn_reason
    steps = list(
        StarStep.objects.filter(site=site)
        .order_by("-id")
        .values_list("action", "stars_before", "stars_after")
    )
    assert steps[0] == ("withdraw", 3, None)


def test_withdrawal_needs_a_reason_and_leaves_the_public_list(people, world):
    site = to_state("awarded", people, world.a1)
    anon = Api(None)
    assert anon.get("/stars/public").json()["count"] == 1
    r = Api(people.sub_staff).post(f"/stars/{site.pk}/withdraw", {"reason": ""})
    assert r.status_code == 422
    r = Api(people.sub_staff).post(f"/stars/{site.pk}/withdraw", {"reason": "   "})
    assert r.status_code == 422
    assert Api(people.staff_a).post(f"/stars/{site.pk}/withdraw", {"reason": "火灾"}).status_code == 403
    r = Api(people.sub_staff).post(f"/stars/{site.pk}/withdraw", {"reason": "发生亡人火灾"})
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["stars"], body["withdrawn_reason"]) == ("withdrawn", None, "发生亡人火灾")
    assert body["history"][0]["action"] == "withdraw" and body["history"][0]["reason"] == "发生亡人火灾"
    assert anon.get("/stars/public").json()["count"] == 0
    told = Notification.objects.filter(recipient=people.staff_a, kind=services.STAR_RESULT_KIND).order_by(
        "id"
    )
    assert told.count() == 2 and "发生亡人火灾" in told.last().message  # the award, then the withdrawal


def test_withdrawal_closes_an_open_review(people, world):
    site = to_state("reviewing", people, world.a1)
    services.withdraw_stars(actor=people.sub_staff, site_id=site.pk, reason="整改不到位")
    assert not StarApplication.objects.filter(site=site, status__in=["applied", "assessed"]).exists()
    assert StarApplication.objects.filter(site=site, status="closed").count() == 1
    assert apply(people.staff_a, world.a1).status_code == 201  # applying again is allowed


def test_review_reminder_once_a_day_and_the_due_list(people, world):
    site = to_state("awarded", people, world.a1)
    site.refresh_from_db()
    assert services.remind_star_reviews(today=site.review_due_on - dt.timedelta(days=1))["notified"] == 0
    first = services.remind_star_reviews(today=site.review_due_on)
    assert first == {"communities": 1, "notified": 1}
    assert services.remind_star_reviews(today=site.review_due_on)["notified"] == 0
    note = Notification.objects.get(recipient=people.staff_a, kind=services.STAR_REVIEW_KIND)
    assert world.comm_a.name in note.message
    assert not Notification.objects.filter(recipient=people.staff_b, kind=services.STAR_REVIEW_KIND).exists()
    # An open review stops the reminder; the list filter shows the due sites.
    assert Api(people.staff_a).get("/stars", {"status": "review_due"}).json()["count"] == 0
    StarSite.objects.filter(pk=site.pk).update(review_due_on=TODAY)
    assert Api(people.staff_a).get("/stars", {"status": "review_due"}).json()["count"] == 1
    services.open_star_review(actor=people.staff_a, site_id=site.pk)
    assert services.remind_star_reviews(today=TODAY + dt.timedelta(days=1))["notified"] == 0


def test_an_award_past_its_end_is_expired_and_not_public(people, world):
    site = to_state("awarded", people, world.a1)
    StarSite.objects.filter(pk=site.pk).update(valid_until=TODAY - dt.timedelta(days=1))
    assert Api(None).get("/stars/public").json()["count"] == 0
    api = Api(people.staff_a)
    assert api.get("/stars", {"status": "expired"}).json()["items"][0]["expired"] is True
    assert api.get("/stars", {"status": "awarded"}).json()["count"] == 0
    assert apply(people.staff_a, world.a1).status_code == 201  # an expired award may apply anew


def test_scope(people, world, heads):
    site = to_state("awarded", people, world.a1)
    # Another community's staff: nothing there (404) for reads and every write, nothing changed.
    other = Api(people.staff_b)
    before = snapshot(world.a1)
    assert other.get(f"/stars/{site.pk}").status_code == 404
    assert other.get("/stars").json()["count"] == 0
    assert other.post(f"/stars/{site.pk}/review", {"note": ""}).status_code == 404
    assert apply(people.staff_b, world.a1).status_code == 404
    assert apply(people.head_b1, world.a1).status_code == 404
    assert snapshot(world.a1) == before
    # A grid worker reads but does not apply; a building head applies for a building of their grid only.
    assert apply(people.worker_a1, world.buildings[f"{world.grid_a1.code}02"]).status_code == 403
    r = apply(heads.head_a1, world.buildings[f"{world.grid_a1.code}02"], note="楼栋长申报")
    assert r.status_code == 201, r.content
    assert apply(heads.head_a1, world.buildings[f"{world.grid_a2.code}01"]).status_code == 404
    compound = services.create_compound(
        actor=people.staff_a, name="北站花园", type="residential", community_code=world.comm_a.code,
        building_codes=[f"{world.grid_a2.code}01"],
    )  # fmt: skip
    r = Api(heads.head_a1).post("/stars", {"kind": "compound", "compound_id": compound.pk})
    assert r.status_code == 403
    assert (
        Api(people.staff_b).post("/stars", {"kind": "compound", "compound_id": compound.pk}).status_code
        == 404
    )
    assert (
        Api(people.staff_a).post("/stars", {"kind": "compound", "compound_id": compound.pk}).status_code
        == 201
    )
    # Community staff assess but do not award or withdraw.
    assert Api(people.staff_a).post(f"/stars/{site.pk}/withdraw", {"reason": "x"}).status_code == 403


def test_compounds_are_named_with_buildings_of_their_community(people, world):
    api = Api(people.staff_a)
    body = {"name": "北站花园", "type": "residential", "community_code": world.comm_a.code,
            "building_codes": [f"{world.grid_a1.code}01", f"{world.grid_a1.code}02"]}  # fmt: skip
    r = api.post("/stars/compounds", body)
    assert r.status_code == 201, r.content
    assert len(r.json()["buildings"]) == 2
    assert api.post("/stars/compounds", body).status_code == 422  # the same name again
    again = {**body, "name": "北站新村", "building_codes": [f"{world.grid_a1.code}01"]}
    assert api.post("/stars/compounds", again).status_code == 422  # a building in another compound
    foreign = {**body, "name": "民乐", "building_codes": [f"{world.grid_b1.code}01"]}
    assert api.post("/stars/compounds", foreign).status_code == 422
    assert api.post("/stars/compounds", {**body, "community_code": world.comm_b.code}).status_code == 404
    assert api.post("/stars/compounds", {**body, "building_codes": ["A\x00"]}).status_code == 422
    assert Api(people.staff_b).get("/stars/compounds").json()["count"] == 0
    assert api.get("/stars/compounds").json()["count"] == 1


def test_public_list_shows_no_personal_data(people, world):
    to_state("awarded", people, world.a1)
    r = Api(None).get("/stars/public")
    assert r.status_code == 200
    item = r.json()["items"][0]
    assert set(item) == {"kind", "name", "stars", "community", "valid_until"}
    assert item == {"kind": "building", "name": world.a1.address, "stars": 4, "community": world.comm_a.name,
                    "valid_until": site_of(world.a1).valid_until.isoformat()}  # fmt: skip
    text = r.content.decode()
    for person in (people.staff_a, people.sub_staff):
        assert person.username not in text and (person.display_name or "") not in text


def test_counts_equal_the_raw_records(people, world, heads):
    b = world.buildings
    to_state("awarded", people, world.a1)  # 4 stars
    services.apply_for_stars(actor=people.staff_a, kind="building", building_code=f"{world.grid_a1.code}02")
    site = site_of(b[f"{world.grid_a1.code}02"])
    services.assess_stars(actor=people.sub_staff, site_id=site.pk, scores=FIVE_STARS)
    services.award_stars(actor=people.sub_staff, site_id=site.pk)
    to_state("refused", people, b[f"{world.grid_a2.code}01"])
    to_state("applied", people, b[f"{world.grid_a2.code}02"])
    services.apply_for_stars(actor=people.staff_b, kind="building", building_code=f"{world.grid_b1.code}01")
    compound = services.create_compound(
        actor=people.staff_a, name="北站花园", type="village", community_code=world.comm_a.code,
        building_codes=[f"{world.grid_a1.code}01"],
    )  # fmt: skip
    services.apply_for_stars(actor=people.staff_a, kind="compound", compound_id=compound.pk)

    for user in (people.sub_staff, people.leader, people.staff_a):
        counts = Api(user).get("/stars/counts").json()
        rows = [counts["area"], *counts["children"]]
        for row in rows:
            area = Area.objects.get(code=row["code"])
            sites = StarSite.objects.filter(path__startswith=area.path)
            for kind in ("building", "compound"):
                mine = sites.filter(kind=kind)
                awarded = mine.filter(status="awarded", valid_until__gte=TODAY)
                assert row[kind]["stars"] == {str(s): awarded.filter(stars=s).count() for s in (3, 4, 5)}
                assert row[kind]["awarded"] == awarded.count()
                assert (
                    row[kind]["applied"] == mine.filter(applications__kind="application").distinct().count()
                )
                assert (
                    row[kind]["open"]
                    == mine.filter(applications__status__in=["applied", "assessed"]).distinct().count()
                )
    top = Api(people.staff_a).get("/stars/counts").json()["area"]
    assert top["code"] == world.comm_a.code
    assert top["building"]["stars"] == {"3": 0, "4": 1, "5": 1} and top["building"]["applied"] == 4
    assert top["compound"]["applied"] == 1 and top["compound"]["open"] == 1
    drill = Api(people.staff_a).get("/stars/counts", {"area": world.grid_a1.code}).json()["area"]
    assert drill["building"]["awarded"] == 2
    assert Api(people.staff_a).get("/stars/counts", {"area": world.comm_b.code}).status_code == 404
    listed = Api(people.staff_a).get("/stars", {"stars": 5}).json()
    assert listed["count"] == 1 and listed["items"][0]["stars"] == 5


def test_assessing_twice_in_a_row_awards_once(people, world):
    site = to_state("assessed", people, world.a1)
    services.award_stars(actor=people.sub_staff, site_id=site.pk)
    with pytest.raises(BadRequest):
        services.award_stars(actor=people.sub_staff, site_id=site.pk)
    assert StarStep.objects.filter(site=site, action="award").count() == 1


@pytest.mark.skipif(connection.vendor == "sqlite", reason="threads need separate PostgreSQL connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_at_once_never_both_award(people, world):
    seed_star_rules(django_apps)  # a flush by an earlier test may have removed the seeded rules
    site = to_state("assessed", people, world.a1)
    second = make_user("sub_staff_2", Role.SUBDISTRICT_STAFF, area=world.sub)  # the same subdistrict
    actors = [people.sub_staff, second]
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    def worker(actor) -> None:
        try:
            barrier.wait()
            services.award_stars(actor=actor, site_id=site.pk)
            outcome = "won"
        except BadRequest:
            outcome = "400"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome = f"error: {exc!r}"
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["400", "won"], results
    assert StarStep.objects.filter(site=site, action="award").count() == 1
    assert Notification.objects.filter(kind=services.STAR_RESULT_KIND).count() == 1


def test_the_back_office_only_shows_the_star_criteria(db, client):
    from gridgov.accounts.models import User

    client.force_login(User.objects.create_superuser("root", password="Root-Passw0rd!"))
    rules = StarRules.objects.get(version=1)
    assert client.get("/admin/rental/starrules/").status_code == 200
    assert client.get(f"/admin/rental/starrules/{rules.pk}/change/").status_code == 200
    assert client.get("/admin/rental/starrules/add/").status_code == 403
    client.post(f"/admin/rental/starrules/{rules.pk}/change/", {"validity_days": 9})
    rules.refresh_from_db()
    assert rules.validity_days == 365
