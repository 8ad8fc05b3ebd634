"""Chinese first: messages are in Simplified Chinese by default and in English on request; every
message of the code has a Chinese translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gridgov

PO = Path(gridgov.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.django_db
def test_validation_errors_are_chinese_by_default_and_english_on_request(client):
    zh = client.get("/api/v1/territory/locate", {"lng": "abc", "lat": 22.6})
    assert zh.status_code in (401, 422)
    from gridgov.accounts.models import User

    User.objects.create_user("i18n", password="I18n@2026-x")
    client.post(
        "/api/v1/auth/login", {"username": "i18n", "password": "I18n@2026-x"}, content_type="application/json"
    )
    zh = client.get("/api/v1/territory/locate", {"lng": "abc", "lat": 22.6})
    assert zh.status_code == 422
    body = zh.json()
    assert body["title"] == "输入有误"
    assert {"field": "query.lng", "message": "请输入数字", "code": "float_parsing"} in body["errors"]
    en = client.get("/api/v1/territory/locate", {"lng": "abc", "lat": 22.6}, HTTP_ACCEPT_LANGUAGE="en")
    assert en.json()["title"] == "The input is not valid"
    assert en.json()["errors"][0]["message"] == "Enter a number"


@pytest.mark.django_db
def test_login_failure_message_in_both_languages(client):
    r = client.post(
        "/api/v1/auth/login", {"username": "nobody", "password": "x"}, content_type="application/json"
    )
    assert r.status_code == 401 and "用户名或密码错误" in r.json()["detail"]
    r = client.post(
        "/api/v1/auth/login",
        {"username": "nobody", "password": "x"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 401 and "username or password is wrong" in r.json()["detail"]


def test_every_message_has_a_chinese_translation():
    text = PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]
    untranslated = []
    for entry in entries:
        if entry.lstrip().startswith("#~"):
            continue
        msgid = "".join(re.findall(r'^msgid ((?:".*"\n?)+)', entry, re.M))
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', entry, re.M)
        if msgid and (not msgstrs or any(s.strip() == '""' for s in msgstrs)):
            untranslated.append(msgid.strip())
        assert "#, fuzzy" not in entry, entry
    assert untranslated == []
