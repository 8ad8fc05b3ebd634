"""Finding 12: rate limits on logins, TOTP and anonymous endpoints (429 problem+json with Retry-After, in
the user's language); administrators cannot be locked out by anonymous requests from elsewhere; the
console unlock; locked and unknown accounts answer alike (test_login.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gridgov.accounts.models import AuditEvent, AuditEventType, LoginLock, User
from gridgov.accounts.tests.conftest import Api
from gridgov.core import ratelimit
from gridgov.testing import assert_problem

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-1"


def _from(address: str, language: str = "en") -> Api:
    api = Api(language=language)
    api.client.defaults["REMOTE_ADDR"] = address
    return api


def test_a_password_spray_from_one_address_meets_429(people, settings):
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "login-address": "5/10m"}
    api = _from("203.0.113.7")
    names = [f"guess{i}" for i in range(5)]
    assert [api.login(n, WRONG).status_code for n in names] == [401] * 5
    for language in ("en", "zh"):
        api.language = "zh-hans" if language == "zh" else "en"
        refused = api.login("staff_a", WRONG)
        body = assert_problem(refused, 429, code="too-many-requests", language=language)
        assert 0 < int(refused["Retry-After"]) <= 600 and body["retry_after"] == int(refused["Retry-After"])
    # Refused before the password check: nothing counted on the account.
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 0
    # Another address is not affected.
    assert _from("198.51.100.9").login("staff_a").status_code == 200


def test_successful_logins_do_not_use_up_the_address_limit(people, settings):
    """Only failures count: an office behind one NAT address can log in all morning."""
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "login-address": "3/10m"}
    for _ in range(5):
        assert _from("203.0.113.8").login("staff_a").status_code == 200


def test_one_account_is_limited_across_addresses(people, settings):
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "login-account": "3/10m"}
    for i in range(3):
        assert _from(f"203.0.113.{i + 1}").login("nobody-here", WRONG).status_code == 401
    assert _from("203.0.113.50").login("nobody-here", WRONG).status_code == 429


def test_anonymous_requests_cannot_lock_out_the_security_administrator(people):
    attacker = _from("203.0.113.66")
    for _ in range(8):
        assert attacker.login("secadmin", WRONG).status_code in (401, 429)
    assert attacker.login("secadmin").status_code in (401, 429)  # locked from that address
    # The account itself is not locked: the administrator logs in from their own address.
    assert User.objects.get(pk=people.secadmin.pk).locked_until is None
    assert _from("10.0.0.5").login("secadmin").status_code == 200
    lock = LoginLock.objects.get(user=people.secadmin, address="203.0.113.66")
    assert lock.locked_until is not None and lock.failed_logins == 5
    event = AuditEvent.objects.get(event_type=AuditEventType.LOGIN_LOCKED, username="secadmin")
    assert event.detail["address"] == "203.0.113.66"


def test_the_console_unlocks_any_account(people, capsys):
    from gridgov.cli import main

    User.objects.filter(pk=people.secadmin.pk).update(
        failed_logins=5, locked_until=timezone.now() + dt.timedelta(minutes=30)
    )
    LoginLock.objects.create(
        user=people.secadmin, address="10.0.0.5", failed_logins=5,
        locked_until=timezone.now() + dt.timedelta(minutes=30),
    )  # fmt: skip
    assert _from("10.0.0.5").login("secadmin").status_code == 401
    assert main(["unlock", "secadmin"]) == 0
    assert "unlocked secadmin" in capsys.readouterr().out
    assert _from("10.0.0.5").login("secadmin").status_code == 200
    event = AuditEvent.objects.get(event_type=AuditEventType.UNLOCK)
    assert (event.username, event.detail["via"]) == ("console", "console")
    assert main(["unlock", "no-such-user"]) == 2


def test_wrong_totp_codes_at_enrolment_are_limited(as_user, people, settings):
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "totp-confirm": "3/10m"}
    api = as_user(people.staff_a)
    api.post("/auth/totp/setup")
    codes = [api.post("/auth/totp/confirm", {"code": "000000"}).status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]


@pytest.mark.parametrize("path", ["/api/v1/auth/csrf", "/api/v1/health"])
def test_anonymous_endpoints_are_limited_per_address(path, settings):
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "public": "3/m"}
    api = _from("203.0.113.9")
    assert [api.get(path).status_code for _ in range(3)] == [200] * 3
    assert_problem(api.get(path), 429, code="too-many-requests")
    assert _from("203.0.113.10").get(path).status_code == 200


def test_unknown_api_tokens_are_limited_per_address(db, settings):
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "invalid-token": "3/m"}
    api = _from("203.0.113.11")
    api.token = "gg_not-a-token"
    assert [api.get("/auth/me").status_code for _ in range(3)] == [401] * 3
    assert api.get("/auth/me").status_code == 429


def test_enforce_is_one_call_for_other_code(rf, settings):
    """What registry exact-value searches will call: a key of their choice, the group's rate."""
    settings.GRIDGOV_RATELIMITS = {**settings.GRIDGOV_RATELIMITS, "registry-exact-search": "2/m"}
    request = rf.get("/")
    ratelimit.enforce(request, "registry-exact-search", key="user:1")
    ratelimit.enforce(request, "registry-exact-search", key="user:1")
    with pytest.raises(ratelimit.RateLimited) as caught:
        ratelimit.enforce(request, "registry-exact-search", key="user:1")
    assert caught.value.status == 429 and caught.value.headers["Retry-After"]
    ratelimit.enforce(request, "registry-exact-search", key="user:2")  # another key is not affected
