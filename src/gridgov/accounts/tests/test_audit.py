"""The security audit log: what a login records, who reads it, and that nobody changes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from gridgov.accounts import services
from gridgov.accounts.models import AuditEvent, AuditEventType
from gridgov.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_a_login_records_time_user_type_success_ip_and_object(api, people):
    before = timezone.now()
    assert api.login("staff_a", REMOTE_ADDR="10.1.2.3").status_code == 200
    event = AuditEvent.objects.get(event_type=AuditEventType.LOGIN)
    assert before <= event.at <= timezone.now()
    assert (event.user_id_ref, event.username) == (people.staff_a.pk, "staff_a")
    assert event.success is True
    assert event.source_ip == "10.1.2.3"
    assert (event.object_type, event.object_id) == ("user", str(people.staff_a.pk))


def test_a_failed_login_is_recorded_as_unsuccessful(api, people):
    api.login("staff_a", "Wrong-Password-1")
    api.login("ghost", "Wrong-Password-1")
    events = {e.username: e for e in AuditEvent.objects.filter(event_type=AuditEventType.LOGIN)}
    assert events["staff_a"].success is False and events["staff_a"].detail["reason"] == "password"
    assert events["ghost"].success is False and events["ghost"].user_id_ref is None
    assert events["ghost"].source_ip == "127.0.0.1"


def test_forwarded_address_is_used_behind_trusted_proxies(api, people, settings):
    settings.GRIDGOV_NUM_PROXIES = 1
    api.login("staff_a", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1", REMOTE_ADDR="10.0.0.2")
    assert AuditEvent.objects.get(event_type=AuditEventType.LOGIN).source_ip == "10.0.0.1"
    settings.GRIDGOV_NUM_PROXIES = 0
    api.login("staff_a", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.0.0.2")
    assert AuditEvent.objects.order_by("-id").first().source_ip == "10.0.0.2"


def test_the_audit_administrator_reads_and_filters_the_log(api, as_user, people):
    api.login("staff_a", "Wrong-Password-1")
    api.login("staff_a")
    api.login("staff_b")
    auditor = as_user(people.auditor)

    everything = auditor.get("/accounts/audit").json()
    assert everything["count"] == 3
    item = everything["items"][0]
    assert set(item) == {
        "id",
        "at",
        "user_id",
        "username",
        "event_type",
        "event_label",
        "success",
        "source_ip",
        "object_type",
        "object_id",
        "detail",
    }
    assert (item["username"], item["event_type"], item["event_label"]) == ("staff_b", "login", "Login")

    def count(**params):
        return auditor.get("/accounts/audit", params).json()["count"]

    assert count(username="staff_a") == 2
    assert count(username="staff_a", success="false") == 1
    assert count(event_type="login", success="true") == 2
    today = timezone.localdate()
    assert count(date_from=today.isoformat(), date_to=today.isoformat()) == 3
    assert count(date_to=(today - dt.timedelta(days=1)).isoformat()) == 0
    assert count(date_from=(today + dt.timedelta(days=1)).isoformat()) == 0
    assert auditor.get("/accounts/audit", {"event_type": "nonsense"}).status_code == 422


def test_the_log_is_paginated(api, as_user, people):
    for _ in range(3):
        services.record_audit(AuditEventType.DATA_CHANGE, user=people.staff_a)
    page = as_user(people.auditor).get("/accounts/audit", {"page": 2, "page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["items"]) == 1


@pytest.mark.parametrize("actor", ["admin", "secadmin", "staff_a", "resident_a"])
def test_nobody_else_reads_the_log(as_user, people, actor):
    user = getattr(people, actor)
    response = as_user(user).get("/accounts/audit")
    assert response.status_code == 403
    denied = AuditEvent.objects.get(event_type=AuditEventType.PERMISSION_DENIED)
    assert (denied.username, denied.success, denied.detail["action"]) == (user.username, False, "audit.read")


def _fresh_event(people) -> AuditEvent:
    return services.record_audit(AuditEventType.LOGIN, user=people.staff_a, object_type="user", object_id=1)


def test_the_orm_refuses_to_change_or_delete_an_event(people):
    event = _fresh_event(people)
    event.success = False
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(success=False)
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["success"])
    assert AuditEvent.objects.get(pk=event.pk).success is True


def test_the_database_refuses_to_change_or_delete_an_event(people):
    event = _fresh_event(people)
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET success = %s WHERE id = %s", [False, event.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.filter(pk=event.pk, success=True).exists()


def _insert_old_event(days: int) -> int:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(timezone.now() - dt.timedelta(days=days))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (at, username, event_type, success, object_type, object_id, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [at, "old", "login", True, "", "", "{}"],
        )
    return AuditEvent.objects.get(username="old").pk


def test_purge_refuses_anything_younger_than_the_retention_period(people):
    with pytest.raises(ValidationFailed):
        services.purge_audit(30)
    with pytest.raises(ValidationFailed):
        services.purge_audit(182)


def test_purge_deletes_only_events_older_than_asked(people):
    old = _insert_old_event(400)
    fresh = _fresh_event(people)
    assert services.purge_audit(365) == 1
    assert not AuditEvent.objects.filter(pk=old).exists()
    assert AuditEvent.objects.filter(pk=fresh.pk).exists()
    purge = AuditEvent.objects.get(event_type=AuditEventType.AUDIT_PURGE)
    assert purge.detail == {"older_than_days": 365, "deleted": 1}


def test_purge_follows_the_retention_setting(people, settings):
    settings.GRIDGOV_AUDIT_RETENTION_DAYS = 400
    with pytest.raises(ValidationFailed):
        services.purge_audit(365)
