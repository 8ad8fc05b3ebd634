"""The headers of the real server (`gridgov serve`, gunicorn): no Server header, a strict CSP on the pages,
no-store on the API, and gunicorn's own errors (an address over its limit) as problem+json."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def _open(url: str):
    try:
        r = urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()
    with r:
        return r.status, r.headers, r.read()


def test_the_real_server_sends_the_security_headers(server):
    status, headers, page = _open(server.url + "/app/")
    assert status == 200
    assert headers.get("Server") is None
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert b"<script>" not in page  # no inline script: the configuration is a JSON data block
    status, headers, _ = _open(server.url + "/api/v1/health")
    assert headers.get("Server") is None
    assert "no-store" in headers["Cache-Control"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_an_address_over_the_limit_is_a_problem_not_a_page(server):
    status, headers, body = _open(server.url + "/api/v1/territory/areas?q=" + "x" * 6000)
    assert status == 414
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers.get("Server") is None
    assert json.loads(body)["title"] == "请求地址过长"


def test_the_server_pages_run_under_the_policy(server, new_context):
    """The home page, the API documentation (Swagger UI) and the back office's login page load under the
    Content-Security-Policy; the fixture fails the test on any violation."""
    from playwright.sync_api import expect

    page = new_context("desktop").new_page()
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_be_visible()
    page.goto(server.url + "/api/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    page.goto(server.url + "/admin/login/")
    expect(page.locator("#id_username")).to_be_visible()
    page.wait_for_timeout(500)
