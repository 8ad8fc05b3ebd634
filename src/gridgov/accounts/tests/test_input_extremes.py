"""Finding 9: inputs that were 500s — non-ASCII digits in a TOTP code, years 0001 / 9999 in the date
filters (case list, figures, audit log, PII access log), a naive `expires_at` on a PII grant. Each now
answers a clear 422 problem+json in the user's language (or works), never a 500."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from django.utils import timezone

from gridgov.accounts import otp
from gridgov.accounts.models import User
from gridgov.accounts.tests.conftest import Api
from gridgov.core.dates import MAX_DATE, MIN_DATE, bounded_datetime, day_end, day_start
from gridgov.testing import assert_problem

pytestmark = pytest.mark.django_db

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _current(secret: str) -> str:
    return pyotp.TOTP(secret).generate_otp(otp.current_step(secret))


@pytest.mark.parametrize("table", [ARABIC_INDIC, FULL_WIDTH])
def test_totp_confirm_reads_other_decimal_digits(as_user, people, table):
    api = as_user(people.staff_a)
    secret = api.post("/auth/totp/setup").json()["secret"]
    assert_problem(api.post("/auth/totp/confirm", {"code": "١٢٣٤٥x"}), 422, field="code")
    response = api.post("/auth/totp/confirm", {"code": _current(secret).translate(table)})
    assert response.status_code == 200, response.content
    assert response.json()["totp_enabled"] is True


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "１２３４５６", "¹²³⁴⁵⁶", "一二三四五六"])
def test_totp_at_login_with_non_ascii_digits_is_a_clear_401(people, code):
    user = User.objects.get(pk=people.staff_a.pk)
    user.totp_secret, user.totp_enabled = otp.new_secret(), True
    user.save()
    response = Api().login("staff_a", totp=code)
    assert_problem(response, 401, code="totp-required")


def test_totp_at_login_with_full_width_digits_logs_in(people):
    user = User.objects.get(pk=people.staff_a.pk)
    secret = otp.new_secret()
    user.totp_secret, user.totp_enabled = secret, True
    user.save()
    response = Api().login("staff_a", totp=_current(secret).translate(FULL_WIDTH))
    assert response.status_code == 200, response.content


EXTREMES = ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01"]


@pytest.mark.parametrize("value", EXTREMES)
@pytest.mark.parametrize(
    ("who", "path", "params"),
    [
        ("staff", "/api/v1/cases/cases", ("created_from", "created_to")),
        ("staff", "/api/v1/cases/figures", ("date_from", "date_to")),
        ("staff", "/api/v1/cases/figures/by-day", ("date_from", "date_to")),
        ("auditor", "/api/v1/accounts/audit", ("date_from", "date_to")),
        ("auditor", "/api/v1/registry/access-log", ("date_from", "date_to")),
    ],
)
def test_date_filters_at_the_extremes_are_a_clear_422(people, as_user, who, path, params, value):
    user = people.staff_a if who == "staff" else people.auditor
    for param in params:
        other = "2026-01-01"
        query = {params[0]: other, params[1]: other, param: value}
        for language in ("en", "zh"):
            api = as_user(user, language="zh-hans" if language == "zh" else "en")
            response = api.get(path, query)
            assert_problem(response, 422, field=param, language=language)


@pytest.mark.parametrize(
    ("who", "path", "params"),
    [
        ("staff", "/api/v1/cases/cases", ("created_from", "created_to")),
        ("auditor", "/api/v1/accounts/audit", ("date_from", "date_to")),
        ("auditor", "/api/v1/registry/access-log", ("date_from", "date_to")),
    ],
)
def test_date_filters_at_the_bounds_work(people, as_user, who, path, params):
    user = people.staff_a if who == "staff" else people.auditor
    response = as_user(user).get(path, {params[0]: MIN_DATE.isoformat(), params[1]: MAX_DATE.isoformat()})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "expires_at", ["2030-01-01T08:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00+08:00"]
)
def test_pii_grant_expiry_naive_or_extreme(people, as_user, areas, expires_at):
    payload = {
        "user_id": people.staff_a.pk,
        "field": "phone",
        "area_code": areas.comm_a.code,
        "reason": "测试",
        "expires_at": expires_at,
    }
    response = as_user(people.secadmin).post("/api/v1/registry/pii-grants", payload)
    if expires_at.startswith("2030"):  # a naive time is read in Asia/Shanghai
        assert response.status_code == 201, response.content
        expiry = dt.datetime.fromisoformat(response.json()["expires_at"])
        assert expiry == dt.datetime(2030, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    else:
        assert_problem(response, 422, field="expires_at")


def test_the_shared_helper_bounds_days_and_times():
    assert day_start(MIN_DATE) < day_end(MAX_DATE)
    with pytest.raises(ValueError):
        day_start(dt.date(1, 1, 1))
    with pytest.raises(ValueError):
        bounded_datetime(dt.datetime(9999, 12, 31, 23, 0))
    aware = bounded_datetime(dt.datetime(2030, 1, 1, 8))
    assert timezone.is_aware(aware)
