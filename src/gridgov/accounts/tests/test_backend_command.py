"""The admin-site authentication backend and the purge_audit command."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.utils import timezone

from gridgov.accounts.models import AuditEvent, AuditEventType, User
from gridgov.accounts.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BACKEND = ["gridgov.accounts.backends.LockoutModelBackend"]


@override_settings(AUTHENTICATION_BACKENDS=BACKEND)
def test_admin_site_logins_count_failures_and_respect_the_lock(people):
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.9.8.7")
    for _ in range(5):
        assert authenticate(request, username="staff_a", password="Wrong-Password-1") is None
    user = User.objects.get(pk=people.staff_a.pk)
    assert user.failed_logins == 5 and user.locked_until > timezone.now()
    assert authenticate(request, username="staff_a", password=PASSWORD) is None
    assert (
        AuditEvent.objects.filter(event_type=AuditEventType.LOGIN_LOCKED, source_ip="10.9.8.7").count() == 1
    )

    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert authenticate(request, username="staff_a", password=PASSWORD) == user
    assert User.objects.get(pk=user.pk).failed_logins == 0


@override_settings(AUTHENTICATION_BACKENDS=BACKEND)
def test_admin_site_refuses_users_with_a_second_factor(people):
    admin = User.objects.get(pk=people.admin.pk)
    admin.totp_enabled, admin.totp_secret = True, "JBSWY3DPEHPK3PXP"
    admin.save()
    assert authenticate(None, username="sysadmin", password=PASSWORD) is None
    assert authenticate(None, username="nobody", password=PASSWORD) is None


@override_settings(AUTHENTICATION_BACKENDS=BACKEND)
def test_api_sessions_work_with_the_lockout_backend(api, people):
    assert api.login("staff_a").status_code == 200
    assert api.get("/auth/me").status_code == 200


def test_purge_audit_command(people):
    with pytest.raises(CommandError):
        call_command("purge_audit", "--older-than-days", "10")
    call_command("purge_audit", "--older-than-days", "365")
    assert AuditEvent.objects.filter(event_type=AuditEventType.AUDIT_PURGE).count() == 1


def test_admin_site_pages_and_the_read_only_audit_log(client, people, areas):
    from gridgov.accounts.audit import record_audit
    from gridgov.accounts.models import ApiToken

    superuser = User.objects.create_superuser("root", password="Root-Passw0rd!")
    event = record_audit(AuditEventType.LOGIN, user=people.staff_a)
    token = ApiToken.objects.create(user=people.staff_a, name="t", prefix="gg_t", token_hash="ab" * 32)
    client.force_login(superuser)
    for url in (
        "/admin/accounts/user/",
        f"/admin/accounts/user/{people.staff_a.pk}/change/",
        "/admin/accounts/user/add/",
        "/admin/accounts/organisation/",
        "/admin/accounts/membership/",
        "/admin/accounts/apitoken/",
        f"/admin/accounts/apitoken/{token.pk}/change/",
        "/admin/accounts/auditevent/",
        f"/admin/accounts/auditevent/{event.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403
    assert client.get(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    page = client.get(f"/admin/accounts/user/{people.staff_a.pk}/change/").content.decode()
    assert "totp_secret" not in page
