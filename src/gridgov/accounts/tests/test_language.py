"""A user's language: chosen in the web app (PATCH /auth/me), kept on the account, answered at login."""

from __future__ import annotations

import pytest

from gridgov.accounts.tests.conftest import make_user
from gridgov.testing import Api, assert_problem

pytestmark = pytest.mark.django_db


def test_the_chosen_language_is_saved_and_comes_back_at_the_next_login(areas):
    user = make_user("lang_user")
    api = Api(user)
    assert api.ok(api.get("/auth/me"))["preferred_language"] == ""
    me = api.ok(api.patch("/auth/me", {"language": "en"}))
    assert me["preferred_language"] == "en" and me["username"] == "lang_user"
    user.refresh_from_db()
    assert user.language == "en"  # notifications are written in it too
    fresh = Api()
    assert fresh.ok(fresh.login("lang_user"))["preferred_language"] == "en"
    assert api.ok(api.patch("/auth/me", {"language": "zh-hans"}))["preferred_language"] == "zh-hans"
    assert api.ok(api.patch("/auth/me", {"language": ""}))["preferred_language"] == ""


def test_an_unknown_language_is_refused_and_nothing_changes(areas):
    user = make_user("lang_user", language="en")
    for language, lang in (("zh", "zh"), ("en", "en")):
        api = Api(user, language=language)
        r = api.patch("/auth/me", {"language": "fr"})
        assert_problem(r, 422, field="language", language=lang)
    user.refresh_from_db()
    assert user.language == "en"


def test_nobody_logged_in_cannot_choose_a_language():
    assert_problem(Api().patch("/auth/me", {"language": "en"}), 401)
