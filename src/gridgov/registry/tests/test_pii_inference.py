"""What a role can infer about personal information it may not see (the security probe's findings 1, 4, 7):

- a masked ID number, with everything else the role is shown, leaves a large set of candidates, and no
  API the role has confirms one of them (searches, submissions, registering or changing a resident);
- nothing a grid worker reads differs by whether a resident is in a care group;
- registering an ID number answers the same whether it is registered in another community or nowhere,
  and every attempt is on the personal-information access log."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter as Tally

import pytest

from gridgov.core.tabular.validators import ID_CHECK_CHARS, ID_WEIGHTS, make_id_number
from gridgov.registry import vault
from gridgov.registry.models import PiiAccessLog, RecordHistory, Resident, Submission
from gridgov.registry.tests.conftest import Api

BUILDING = "44030900200100101"  # grid A1 (head_a1 and worker_a1)
EARLIEST = dt.date(1900, 1, 1)


def _register(
    staff, number: str, *, building: str = BUILDING, room: str = "0101", phone: str = ""
) -> Resident:
    body = {
        "name": "赵六", "id_number": number, "phone": phone, "residence_type": "registered",
        "building_code": building, "unit": "1", "room": room,
    }  # fmt: skip
    r = Api(staff).post("/residents", body)
    assert r.status_code == 201, r.content
    return Resident.objects.get(pk=r.json()["id"])


# --- the candidates a masked ID number allows --------------------------------------------------------
def _residues(digit_choices: list[tuple[int, list[int]]]) -> Tally:
    """How many ways the free digits at these positions give each weighted sum mod 11."""
    out = Tally({0: 1})
    for pos, choices in digit_choices:
        nxt: Tally = Tally()
        for r, n in out.items():
            for d in choices:
                nxt[(r + d * ID_WEIGHTS[pos]) % 11] += n
        out = nxt
    return out


def _dates(masked: str, shown: dt.date | None, today: dt.date) -> list[str]:
    """The birth dates (YYYYMMDD) the mask and the shown birth date allow."""
    if shown is not None:
        return [f"{shown:%Y%m%d}"]
    out, day = [], EARLIEST
    while day <= today:
        text = f"{day:%Y%m%d}"
        if all(m == "*" or m == c for m, c in zip(masked[6:14], text, strict=True)):
            out.append(text)
        day += dt.timedelta(days=1)
    return out


def candidates(view: dict, today: dt.date) -> tuple[int, callable]:
    """From what a reader sees of a resident (masked ID number, birth date, gender): the number of valid
    ID numbers that fit (GB 11643: 6 area digits, 8 birth-date digits, 3 sequence digits whose last is
    odd for men, a check character), and a function drawing concrete ones."""
    masked = view["id_number"]
    assert len(masked) == 18
    birth = dt.date.fromisoformat(view["birth_date"]) if view.get("birth_date") else None
    dates = _dates(masked, birth, today)

    def digits(pos: int) -> list[int]:
        if masked[pos] != "*":
            return [int(masked[pos])]
        if pos == 16 and view.get("gender") in ("M", "F"):
            return [d for d in range(10) if (d % 2 == 1) == (view["gender"] == "M")]
        return list(range(10))

    free = _residues([(p, digits(p)) for p in (*range(6), *range(14, 17))])
    by_date = Tally(sum(int(c) * ID_WEIGHTS[6 + i] for i, c in enumerate(d)) % 11 for d in dates)
    checks = [masked[17]] if masked[17] != "*" else list(ID_CHECK_CHARS)
    count = 0
    for r1, n1 in free.items():
        for r2, n2 in by_date.items():
            if ID_CHECK_CHARS[(r1 + r2) % 11] in checks:
                count += n1 * n2

    def draw(k: int, seed: int = 7) -> list[str]:
        rng, out = random.Random(seed), set()
        while len(out) < k:
            first17 = "".join(str(rng.choice(digits(p))) for p in range(6)) + rng.choice(dates)
            first17 += "".join(str(rng.choice(digits(p))) for p in range(14, 17))
            check = ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]
            if check in checks:
                out.add(first17 + check)
        return sorted(out)

    return count, draw


def test_the_candidate_count_uses_what_is_shown():
    """The enumeration itself: with the birth date beside the masked number (as before), at most 91."""
    number = make_id_number("440309", dt.date(1980, 5, 6), 123, "M")
    today = dt.date(2026, 12, 6)
    shown = {"id_number": vault.mask_id(number), "birth_date": "1980-05-06", "gender": "M"}
    count, draw = candidates(shown, today)
    assert count <= 91 and number in draw(count, seed=1)


# --- finding 1: ID numbers recovered by a building head -----------------------------------------------
def _answer(r) -> tuple:
    """A response as the caller can compare it: status and body without the fields every call differs in."""
    import json

    body = r.json() if r.content else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("id", "submitted_at", "data")}
    return r.status_code, json.dumps(body, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("who", ["head_a1", "worker_a1"])
def test_a_masked_id_number_cannot_be_recovered(people, world, who):
    true_id = make_id_number("440309", dt.date(1985, 7, 19), 214, "F")
    target = _register(people.staff_a, true_id, phone="13712345678")
    _register(people.staff_a, make_id_number("440304", dt.date(1990, 1, 2), 11, "M"), room="0102")
    user = getattr(people, who)
    api = Api(user)

    # What the role sees of the resident, everywhere it looks (list, detail, reveal asked for).
    views = [
        *(x for x in api.get("/residents").json()["items"] if x["id"] == target.pk),
        api.get(f"/residents/{target.pk}").json(),
        api.get(f"/residents/{target.pk}", {"reveal": "true"}).json(),
    ]
    assert len(views) == 3
    for view in views:
        assert view["id_number"] == vault.mask_id(true_id) and view["birth_date"] is None
    count, draw = candidates(views[-1], dt.date.today())
    assert count > 1_000_000, count  # ≈ 1000 area completions × 46 000 days / 11
    probes = sorted({true_id, *draw(12)})
    assert true_id in probes and len(probes) == 13

    # Every API the role has that takes an ID number answers the true one like the wrong ones.
    residents_before = Resident.objects.count()
    answers: dict[str, set] = {}
    for number in probes:
        for name, r in (
            ("search", api.get("/residents", {"id_number": number})),
            ("search+reveal", api.get("/residents", {"id_number": number, "reveal": "true"})),
            (
                "submit create",
                api.post(
                    "/submissions",
                    {
                        "kind": "resident",
                        "action": "create",
                        "data": {
                            "name": "赵六",
                            "id_number": number,
                            "residence_type": "registered",
                            "building_code": BUILDING,
                            "unit": "1",
                            "room": "0201",
                        },
                    },
                ),
            ),  # fmt: skip
            (
                "submit change",
                api.post(
                    "/submissions",
                    {
                        "kind": "resident",
                        "action": "update",
                        "target_id": target.pk + 1,
                        "data": {"id_number": number},
                    },
                ),
            ),  # fmt: skip
            (
                "register",
                api.post(
                    "/residents",
                    {
                        "name": "赵六",
                        "id_number": number,
                        "residence_type": "registered",
                        "building_code": BUILDING,
                        "unit": "1",
                        "room": "0201",
                    },
                ),
            ),  # fmt: skip
            ("change", api.patch(f"/residents/{target.pk + 1}", {"version": 1, "id_number": number})),
        ):
            answers.setdefault(name, set()).add(_answer(r))
            assert not (r.status_code == 200 and r.json().get("count")), (name, number)
    assert {name: len(seen) for name, seen in answers.items()} == dict.fromkeys(answers, 1), answers
    assert Resident.objects.count() == residents_before
    # The submissions wait for review; every one of them was logged with what the register held.
    logged = PiiAccessLog.objects.filter(username=user.username, action="register")
    assert logged.count() == Submission.objects.filter(submitted_by=user).count() == 2 * len(probes)
    assert {x.detail["via"] for x in logged} == {"submission"}


# --- finding 4: care-group membership inferred by a grid worker ------------------------------------------
def test_nothing_a_grid_worker_reads_differs_by_care_group(people, world):
    cared = _register(
        people.staff_a, make_id_number("440309", dt.date(1941, 2, 3), 5, "F"), phone="13700000001"
    )
    plain = _register(
        people.staff_a,
        make_id_number("440309", dt.date(1942, 2, 3), 7, "F"),
        room="0102",
        phone="13700000002",
    )
    r = Api(people.staff_a).post("/care-members", {"resident_id": cared.pk, "group": "elderly_alone"})
    assert r.status_code == 201

    def read(user, resident: Resident) -> list:
        api = Api(user)
        seen = []
        listed = [x for x in api.get("/residents").json()["items"] if x["id"] == resident.pk]
        for body in (
            *listed,
            api.get(f"/residents/{resident.pk}").json(),
            api.get(f"/residents/{resident.pk}", {"reveal": "true", "purpose": "走访"}).json(),
        ):
            seen.append(
                {
                    "keys": sorted(body),
                    "masked": body["masked"],
                    "revealable": body["revealable"],
                    "care_groups": body["care_groups"],
                    "phone_shown": "*" not in body["phone"],
                    "birth_date": body["birth_date"],
                }
            )
        before = PiiAccessLog.objects.filter(username=user.username).count()
        phone = vault.decrypt(resident.phone_enc, resident.pii_key, "phone")
        found = api.get("/residents", {"phone": phone})
        seen.append(("phone search", found.status_code, found.json().get("count")))
        seen.append(("history", [h["action"] for h in api.get(f"/residents/{resident.pk}/history").json()]))
        logs = list(PiiAccessLog.objects.filter(username=user.username).order_by("id"))
        seen.append(("log", [(x.action, x.fields, x.count) for x in logs[before:]]))
        return seen

    for user in (people.worker_a1, people.head_a1):
        assert read(user, cared) == read(user, plain), user.username
    worker = read(people.worker_a1, cared)
    assert worker[0]["revealable"] == ["phone"] and worker[0]["care_groups"] is None
    # The export (grid workers may export their grid): the same columns, revealed the same way.
    r = Api(people.worker_a1).post("/exports", {"kind": "residents", "format": "csv", "reveal": True})
    lines = b"".join(r.streaming_content).decode("utf-8-sig").splitlines()
    rows = {line.split(",")[4]: line.split(",") for line in lines[1:]}
    assert set(rows) == {"13700000001", "13700000002"}  # both phones, nothing else told apart
    assert {row[3] for row in rows.values()} == {""}  # no birth date beside the masked ID numbers


# --- finding 7: the registration oracle -----------------------------------------------------------------
def test_registration_answers_the_same_for_a_number_registered_elsewhere_or_nowhere(people, world):
    elsewhere = make_id_number("440309", dt.date(1970, 3, 4), 31, "M")
    theirs = _register(people.staff_b, elsewhere, building=world.b1.code)
    nowhere = [make_id_number("440309", dt.date(1971 + i, 3, 4), 41 + 2 * i, "M") for i in range(4)]

    def submission(number: str, room: str) -> dict:
        return {"kind": "resident", "action": "create", "data": {
            "name": "钱七", "id_number": number, "residence_type": "tenant", "building_code": BUILDING,
            "unit": "1", "room": room}}  # fmt: skip

    # Residents, building heads and grid workers submit; community staff of another community register.
    for i, user in enumerate((people.resident, people.head_a1, people.worker_a1)):
        a = Api(user).post("/submissions", submission(elsewhere, "0201"))
        b = Api(user).post("/submissions", submission(nowhere[i], "0201"))
        assert a.status_code == b.status_code == 201, (a.content, b.content)
        assert _answer(a) == _answer(b)
    staff = Api(people.staff_a)
    fresh = staff.post("/residents", {**submission(nowhere[3], "0202")["data"]})
    moved = staff.post("/residents", {**submission(elsewhere, "0301")["data"]})
    assert fresh.status_code == moved.status_code == 201, moved.content
    strip = ("id", "id_number", "created_at", "updated_at", "room", "household_id", "birth_date", "gender")
    assert {k: v for k, v in fresh.json().items() if k not in strip} == {
        k: v for k, v in moved.json().items() if k not in strip
    }
    # Every attempt is logged, with what the register held (for the audit administrator only).
    logs = PiiAccessLog.objects.filter(action="register").order_by("id")
    assert [(x.username, x.detail["outcome"]) for x in logs] == [
        ("staff_b", "new"), ("resident", "elsewhere"), ("resident", "new"), ("head_a1", "elsewhere"), ("head_a1", "new"),
        ("worker_a1", "elsewhere"), ("worker_a1", "new"), ("staff_a", "new"), ("staff_a", "elsewhere"),
    ]  # fmt: skip
    assert logs[8].object_refs == f",{theirs.pk},"

    # The person moved: their record in community B is marked as moved out, by the system, naming
    # neither the new community nor who registered them.
    theirs.refresh_from_db()
    assert theirs.moved_out is not None
    last = (
        RecordHistory.objects.filter(object_type="resident", object_id=theirs.pk).order_by("-version").first()
    )
    assert (last.action, last.actor_id) == ("move_out", None)
    assert "staff_a" not in str(last.changes) + last.note and BUILDING not in str(last.changes) + last.note

    # Inside the caller's own area the duplicate check stays (a second registration of the same person),
    # and it is logged too.
    again = staff.post("/residents", {**submission(elsewhere, "0302")["data"]})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "id_number"
    assert (
        PiiAccessLog.objects.filter(action="register").order_by("-id").first().detail["outcome"] == "in_scope"
    )
    # The reviewer approves the collected registrations: the one registered elsewhere moves the person too
    # … and the one now registered in the reviewer's own area is the duplicate they resolve.
    pending = {
        vault.decrypt(s.payload_enc, s.pii_key, "submission"): s
        for s in Submission.objects.filter(status="pending").order_by("id")
    }
    first_new = next(s for text, s in pending.items() if nowhere[0] in text)
    assert staff.post(f"/submissions/{first_new.pk}/approve").status_code == 200
    dup = next(s for text, s in pending.items() if elsewhere in text)
    r = staff.post(f"/submissions/{dup.pk}/approve")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "id_number"
    assert staff.post(f"/submissions/{dup.pk}/reject", {"reason": "已登记"}).status_code == 200


def test_an_import_answers_the_same_for_a_number_registered_elsewhere_or_nowhere(people, world):
    from gridgov.registry.tests.conftest import csv_bytes, id_for, resident_rows, run_import

    theirs = _register(people.staff_b, id_for(1, "M"), building=world.b1.code)
    mine = _register(people.staff_a, id_for(2, "F"))
    rows = resident_rows(4)  # id_for(0..3): 1 registered in community B, 2 in A, 0 and 3 nowhere
    job = run_import(people.staff_a, csv_bytes(rows))
    errors = [(e.row, e.column) for e in job.row_errors.all()]
    assert errors == [(4, "id_number")]  # only the duplicate inside the importer's own area
    assert job.inserted == 3
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.moved_out is not None and mine.moved_out is None
    log = PiiAccessLog.objects.filter(action="register", username="staff_a").order_by("-id").first()
    assert {k: log.detail[k] for k in ("via", "new", "in_scope", "elsewhere")} == {
        "via": "import", "new": 2, "in_scope": 1, "elsewhere": 1,
    }  # fmt: skip
