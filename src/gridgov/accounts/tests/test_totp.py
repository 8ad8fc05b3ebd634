"""The TOTP second factor: enrolment, login with the code, no replay, the GRIDGOV_MFA_REQUIRED gate."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.test import override_settings

from gridgov.accounts import otp
from gridgov.accounts.models import AuditEvent, AuditEventType, User
from gridgov.accounts.tests.conftest import Api

pytestmark = pytest.mark.django_db


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).generate_otp(otp.current_step(secret) + offset_steps)


def enrol(api: Api) -> str:
    setup = api.post("/auth/totp/setup")
    assert setup.status_code == 200, setup.content
    secret = setup.json()["secret"]
    confirm = api.post("/auth/totp/confirm", {"code": code_at(secret)})
    assert confirm.status_code == 200, confirm.content
    assert confirm.json()["totp_enabled"] is True
    return secret


def test_setup_returns_a_secret_and_an_otpauth_uri(as_user, people):
    api = as_user(people.staff_a)
    body = api.post("/auth/totp/setup").json()
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["GridGov"]
    user = User.objects.get(pk=people.staff_a.pk)
    assert user.totp_secret == body["secret"]
    assert user.totp_enabled is False


def test_confirm_with_a_wrong_code_is_422(as_user, people):
    api = as_user(people.staff_a)
    secret = api.post("/auth/totp/setup").json()["secret"]
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    response = api.post("/auth/totp/confirm", {"code": wrong})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "code"
    assert User.objects.get(pk=people.staff_a.pk).totp_enabled is False


def test_enrolment_is_audited(as_user, people):
    enrol(as_user(people.staff_a))
    stages = list(
        AuditEvent.objects.filter(event_type=AuditEventType.TOTP_ENROL, success=True)
        .order_by("id")
        .values_list("detail__stage", flat=True)
    )
    assert stages == ["setup", "confirm"]


def test_login_requires_the_code_once_enrolled(as_user, people):
    secret = enrol(as_user(people.staff_a))
    api = Api()
    response = api.login("staff_a")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/totp-required")
    assert api.get("/auth/me").status_code == 401
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 0

    # The step used to confirm enrolment is spent; the next one (within the drift window) works.
    code = code_at(secret, 1)
    ok = api.login("staff_a", totp=code)
    assert ok.status_code == 200, ok.content
    assert ok.json()["totp_enabled"] is True

    # Replaying the same code is refused and counts as a failed login.
    replay = Api().login("staff_a", totp=code)
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/totp-required")
    assert replay.json()["detail"] == "The verification code is wrong or was already used."
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 1


def test_wrong_code_counts_as_a_failed_login(as_user, people):
    secret = enrol(as_user(people.staff_a))
    valid = {code_at(secret, k) for k in (-1, 0, 1)}
    wrong = next(c for c in ("123456", "654321", "000001") if c not in valid)
    for _ in range(4):
        response = Api().login("staff_a", totp=wrong)
        assert response.status_code == 401
        assert response.json()["type"].endswith("/totp-required")
    assert User.objects.get(pk=people.staff_a.pk).failed_logins == 4
    assert Api().login("staff_a", totp=wrong).status_code == 401
    user = User.objects.get(pk=people.staff_a.pk)
    assert user.failed_logins == 5 and user.locked_until is not None
    # Locked: even the right password and code answer the generic 401 and do not log in.
    locked = Api()
    response = locked.login("staff_a", totp=code_at(secret))
    assert response.status_code == 401 and response.json()["type"].endswith("/invalid-credentials")
    assert locked.get("/auth/me").status_code == 401


def test_codes_outside_the_drift_window_are_refused(as_user, people):
    secret = enrol(as_user(people.staff_a))
    assert Api().login("staff_a", totp=code_at(secret, 3)).status_code == 401


def test_matching_step_never_accepts_a_step_twice():
    secret = otp.new_secret()
    now = otp.current_step(secret)
    code = pyotp.TOTP(secret).now()
    step = otp.matching_step(secret, code, last_step=None)
    assert step is not None and abs(step - now) <= 1
    assert otp.matching_step(secret, code, last_step=step) is None
    assert otp.matching_step(secret, "12ab56", last_step=None) is None


def test_security_admin_resets_the_second_factor(as_user, people):
    enrol(as_user(people.staff_a))
    response = as_user(people.secadmin).post(f"/accounts/users/{people.staff_a.pk}/totp/reset")
    assert response.status_code == 200, response.content
    assert response.json()["totp_enabled"] is False
    user = User.objects.get(pk=people.staff_a.pk)
    assert (user.totp_enabled, user.totp_secret, user.totp_last_step) == (False, "", None)
    assert Api().login("staff_a").status_code == 200
    assert AuditEvent.objects.filter(event_type=AuditEventType.TOTP_RESET, username="secadmin").exists()


def test_setup_again_once_enrolled_is_a_conflict(as_user, people):
    api = as_user(people.staff_a)
    enrol(api)
    assert api.post("/auth/totp/setup").status_code == 409


@override_settings(GRIDGOV_MFA_REQUIRED=True)
def test_mfa_required_blocks_staff_until_enrolled(people):
    api = Api()
    login = api.login("staff_a")
    assert login.status_code == 200
    assert login.json()["mfa_enrolment_required"] is True

    blocked = api.get("/accounts/users")
    assert blocked.status_code == 403
    assert blocked.json()["type"].endswith("/mfa-enrolment-required")
    assert "second factor" in blocked.json()["detail"]
    assert api.get("/accounts/organisations").status_code == 403
    assert api.get("/auth/me").status_code == 200  # /auth/* stays open

    secret = api.post("/auth/totp/setup").json()["secret"]
    assert api.post("/auth/totp/confirm", {"code": code_at(secret)}).json()["mfa_enrolment_required"] is False
    assert api.get("/accounts/users").status_code == 200
    assert (
        AuditEvent.objects.filter(
            event_type=AuditEventType.PERMISSION_DENIED, detail__action="mfa_enrolment_required"
        ).count()
        == 2
    )


@override_settings(GRIDGOV_MFA_REQUIRED=True)
def test_mfa_required_does_not_concern_residents(people):
    api = Api()
    assert api.login("resident_a").json()["mfa_enrolment_required"] is False
    assert api.get("/accounts/users").status_code == 200


@override_settings(GRIDGOV_MFA_REQUIRED=True)
def test_mfa_required_also_applies_to_api_tokens(people, as_user):
    with override_settings(GRIDGOV_MFA_REQUIRED=False):
        secret = as_user(people.staff_a).post("/accounts/tokens", {"name": "sync"}).json()["secret"]
    response = Api(token=secret).get("/accounts/users")
    assert response.status_code == 403
