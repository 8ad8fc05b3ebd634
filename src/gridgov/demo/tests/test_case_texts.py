"""The case texts: coverage of every seeded subcategory, clean Chinese output, determinism, variety."""

from __future__ import annotations

import random
import re

import pytest

from gridgov.cases.seed import CATEGORIES
from gridgov.demo import case_texts as ct

SEED_CODES = [child[0] for *_, children in CATEGORIES for child in children]
PLACES = (
    "华富路与民治大道交叉口",
    "锦绣花园3栋",
    "上塘村二巷",
    "龙华新村12栋",
    "观澜湖新城二期十五栋东侧停车场",
)
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")
DOUBLE_PUNCTUATION = re.compile(r"[，。！？；：、]{2,}")


def assert_clean(text: str) -> None:
    assert text, "empty text"
    assert CJK.search(text), text
    assert "{" not in text and "}" not in text, text
    assert not ASCII_LETTER.search(text), text
    assert not DOUBLE_PUNCTUATION.search(text), text
    assert not text.startswith(("，", "。")), text
    assert text == text.strip(), text


def test_every_seeded_subcategory_has_texts():
    assert list(ct.SUBCATEGORY_CODES) == SEED_CODES
    assert set(ct.DESCRIPTIONS) == set(SEED_CODES)
    assert set(ct.PLACE_KIND) == set(SEED_CODES)
    assert set(ct.PLACE_KIND.values()) <= {"street", "building", "either"}
    for code in SEED_CODES:
        assert set(ct.DESCRIPTIONS[code]) <= set(ct.STYLES), code
        assert 6 <= len(ct.templates(code)) <= 12, code
        assert ct.DESCRIPTIONS[code].get(ct.RESIDENT), code
    assert sum(len(ct.templates(code)) for code in SEED_CODES) >= 300


def test_every_template_renders_cleanly():
    rng = random.Random(1)
    for code in SEED_CODES:
        for template in ct.templates(code):
            for place in PLACES:
                text = ct._fill(template, rng, {"place": place})
                assert_clean(text)
                assert ct.MIN_LENGTH <= len(text) <= ct.MAX_LENGTH, text


@pytest.mark.parametrize("style", [None, *ct.STYLES])
def test_descriptions_are_clean_and_in_bounds(style):
    rng = random.Random(2)
    for code in SEED_CODES:
        for _ in range(20):
            place = ct.street_place(rng) if rng.random() < 0.5 else rng.choice(PLACES)
            text = ct.describe(code, rng, place=place, style=style)
            assert_clean(text)
            assert 15 <= len(text) <= 120, text


def test_place_appears_in_many_descriptions():
    rng = random.Random(3)
    for code in SEED_CODES:
        texts = [ct.describe(code, rng, place="锦绣花园3栋") for _ in range(40)]
        assert sum("锦绣花园3栋" in t for t in texts) >= 30, code


def test_descriptions_are_deterministic():
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        out = []
        for code in SEED_CODES:
            out.append(ct.describe(code, rng, place=ct.street_place(rng)))
            out += [ct.handling_note(code, rng), ct.verify_fail_note(code, rng), ct.progress_note(code, rng)]
        out += [ct.person_name(rng), ct.phone(rng), ct.rating_comment(4, rng), ct.supervise_note("red", rng)]
        return out

    assert draw(42) == draw(42)
    assert draw(42) != draw(43)


@pytest.mark.parametrize("code", ["C0101", "E0102", "E0501", "G0402", "G0801", "G0701"])
def test_descriptions_vary(code):
    rng = random.Random(4)
    texts = {ct.describe(code, rng, place="华富路与民治大道交叉口") for _ in range(50)}
    assert len(texts) >= 30


def test_styles_all_occur():
    rng = random.Random(5)
    texts = [ct.describe("C0104", rng, place="人民路88号") for _ in range(200)]
    assert any(t.startswith(("夜间巡查", "人民路88号路灯损坏")) for t in texts)  # patrol
    assert any("反映" in t for t in texts)  # hotline
    assert any("希望" in t or "请" in t for t in texts)  # resident


def test_notes_for_every_subcategory():
    rng = random.Random(6)
    for code in SEED_CODES:
        for _ in range(10):
            assert_clean(ct.handling_note(code, rng))
            assert_clean(ct.verify_fail_note(code, rng))
            assert_clean(ct.progress_note(code, rng))


def test_other_texts_are_clean():
    rng = random.Random(7)
    for _ in range(30):
        assert_clean(ct.verify_pass_note(rng))
        assert_clean(ct.reject_reason(rng))
        assert_clean(ct.return_reason(rng))
        assert_clean(ct.escalation_reason(rng))
        assert_clean(ct.suspension_reason(rng))
        assert_clean(ct.defer_reason(rng))
        for level in ("normal", "yellow", "red"):
            assert_clean(ct.supervise_note(level, rng))


def test_rating_comments():
    rng = random.Random(8)
    for stars in (1, 2):
        for _ in range(30):
            assert_clean(ct.rating_comment(stars, rng))
    for stars in (3, 4, 5):
        comments = [ct.rating_comment(stars, rng) for _ in range(60)]
        assert "" in comments
        for comment in comments:
            assert isinstance(comment, str)
            if comment:
                assert_clean(comment)
    for bad in (0, 6):
        with pytest.raises(ValueError):
            ct.rating_comment(bad, rng)


def test_unknown_code_or_level_raises_key_error():
    rng = random.Random(9)
    for fn in (ct.handling_note, ct.verify_fail_note, ct.progress_note):
        with pytest.raises(KeyError):
            fn("X9999", rng)
    with pytest.raises(KeyError):
        ct.describe("X9999", rng, place="人民路")
    with pytest.raises(KeyError):
        ct.templates("C01")  # a top-level code is not a subcategory
    with pytest.raises(KeyError):
        ct.supervise_note("orange", rng)
    with pytest.raises(ValueError):
        ct.describe("C0101", rng, place="人民路", style="poetic")


def test_people():
    rng = random.Random(10)
    names = [ct.person_name(rng) for _ in range(200)]
    for name in names:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", name), name
    assert len(set(names)) >= 150
    phones = [ct.phone(rng) for _ in range(200)]
    for number in phones:
        assert re.fullmatch(r"1[35789]\d{9}", number), number
    assert len(set(phones)) == 200


def test_street_places():
    rng = random.Random(11)
    places = [ct.street_place(rng) for _ in range(300)]
    for place in places:
        assert_clean(place)
        assert 3 <= len(place) <= 25, place
    assert len(set(places)) >= 250
    assert any("交叉口" in p or "交汇处" in p for p in places)
    assert any("公交站" in p for p in places)
    assert any("地铁站" in p for p in places)
    assert any(re.search(r"村.+巷", p) for p in places)
    picked = ct.place_names(random.Random(12), 40)
    assert len(picked) == len(set(picked)) == 40
