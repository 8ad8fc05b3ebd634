"""The browser and HTTP: security headers, and problem+json (never HTML) for a body too large, a full
disk and a forbidden host — in the user's language."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from gridgov.accounts.roles import Role
from gridgov.testing import make_user

pytestmark = pytest.mark.django_db


def _problem(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    return response.json()


def test_pages_and_api_carry_a_strict_content_security_policy(client):
    for url in ("/", "/app/", "/m/", "/api/v1/health"):
        csp = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'", url
        assert "unsafe-eval" not in csp and "unsafe-inline" not in directives["script-src"]
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
        assert directives["connect-src"] == "'self'"


def test_the_app_page_has_no_inline_script():
    page = Client().get("/app/").content.decode()
    if "<script" not in page:
        pytest.skip("the web app is not built")
    import re

    for tag in re.findall(r"<script[^>]*>", page):
        assert 'src="' in tag or 'type="application/json"' in tag, tag
    assert 'id="gridgov-config"' in page


def test_api_answers_are_never_stored_by_browsers_or_proxies(client):
    user = make_user("nostore", Role.ADMIN)
    client.force_login(user)
    for url in ("/api/v1/auth/me", "/api/v1/health", "/api/v1/nothing-here"):
        response = client.get(url)
        assert "no-store" in response["Cache-Control"], url
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in client.get("/static/app/index.html").get(
        "Cache-Control", ""
    )  # static files cache


@override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"), SECURE_HSTS_SECONDS=31536000)
def test_hsts_is_sent_on_https_behind_the_proxy(client):
    assert "Strict-Transport-Security" not in client.get("/api/v1/health")
    secure = client.get("/api/v1/health", HTTP_X_FORWARDED_PROTO="https")
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


def _settings_with(env: dict) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'hosts': settings.ALLOWED_HOSTS, 'proxy': getattr(settings, 'SECURE_PROXY_SSL_HEADER', None),"
        " 'hsts': settings.SECURE_HSTS_SECONDS, 'img': settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGOV_") or k == "GRIDGOV_DATA_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "gridgov.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_security_settings_follow_the_environment():
    plain = _settings_with({})
    assert plain["hosts"] == ["localhost", "127.0.0.1", "[::1]"]  # never "*"
    assert (plain["proxy"], plain["hsts"]) == (None, 0)
    deployed = _settings_with(
        {
            "GRIDGOV_ALLOWED_HOSTS": "gridgov.example.gov.cn",
            "GRIDGOV_SECURE_COOKIES": "1",
            "GRIDGOV_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "GRIDGOV_TILE_URL": "https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}",
        }
    )
    assert deployed["hosts"][-1] == "gridgov.example.gov.cn"
    assert deployed["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert deployed["hsts"] == 365 * 24 * 3600
    assert "https://*.tianditu.gov.cn" in deployed["img"]


@override_settings(ALLOWED_HOSTS=["localhost"])
def test_an_unknown_host_is_a_problem_not_a_page():
    body = _problem(Client(HTTP_HOST="evil.example").get("/api/v1/health", HTTP_ACCEPT_LANGUAGE="en"), 400)
    assert body["title"] == "Bad request"


@pytest.mark.parametrize("lang,title", [("zh-hans", "请求过大"), ("en", "The request is too large")])
def test_a_body_over_the_limit_is_413_problem_json(lang, title):
    big = json.dumps({"username": "x" * (3 * 1024 * 1024), "password": "p"})
    c = Client(raise_request_exception=False)
    r = c.post("/api/v1/auth/login", big, content_type="application/json", HTTP_ACCEPT_LANGUAGE=lang)
    assert _problem(r, 413)["title"] == title
    form = c.post(
        "/api/v1/auth/login",
        "a=" + "x" * (3 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE=lang,
    )
    assert _problem(form, 413)["title"] == title


@pytest.mark.parametrize(
    "lang,title", [("zh-hans", "服务器暂时无法保存数据"), ("en", "The server cannot store data right now")]
)
def test_a_full_disk_is_503_problem_json(monkeypatch, lang, title):
    from django.contrib.sessions.backends.db import SessionStore

    from gridgov.territory import services

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    user = make_user("diskfull", Role.ADMIN)
    c = Client(raise_request_exception=False)
    c.force_login(user)
    # in a view (an area written while the disk is full)
    monkeypatch.setattr(services, "update_area", full)
    r = c.patch(
        "/api/v1/territory/areas/440309",
        json.dumps({"name": "x"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=lang,
    )
    body = _problem(r, 503)
    assert body["title"] == title and r["Retry-After"]
    # outside the view: the session (its last-activity time) saved after the answer was made
    monkeypatch.setattr(SessionStore, "save", full)
    r = c.get("/api/v1/auth/me", HTTP_ACCEPT_LANGUAGE=lang)
    assert _problem(r, 503)["title"] == title
