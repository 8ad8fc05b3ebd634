"""Finding 10 (accounts part): users' phones and TOTP secrets are encrypted at rest through core.pii; the
data migration seals existing rows; key rotation reseals them."""

from __future__ import annotations

import pyotp
import pytest
from django.db import connection

from gridgov.accounts import otp
from gridgov.accounts.models import User
from gridgov.accounts.tests.conftest import Api, make_user
from gridgov.core import pii

PHONE = "13812345678"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _raw_user_row(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_user WHERE id = %s", [pk])
        row = cursor.fetchone()
    return "\n".join(
        bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v) for v in row
    )


@pytest.mark.django_db
def test_phone_and_totp_secret_are_not_stored_in_plain_text(as_user, people):
    created = as_user(people.admin).post(
        "/accounts/users", {"username": "sealed", "password": "Reset-Passw0rd!", "phone": PHONE}
    )
    assert created.status_code == 201, created.content
    assert created.json()["phone"] == "138****5678"
    user = User.objects.get(username="sealed")
    user.must_change_password = False
    user.save()
    api = Api()
    assert api.login("sealed", "Reset-Passw0rd!").status_code == 200
    secret = api.post("/auth/totp/setup").json()["secret"]
    code = pyotp.TOTP(secret).generate_otp(otp.current_step(secret))
    assert api.post("/auth/totp/confirm", {"code": code}).status_code == 200
    raw = _raw_user_row(user.pk)
    assert PHONE not in raw and secret not in raw
    user = User.objects.get(pk=user.pk)
    assert user.phone == PHONE and user.totp_secret == secret and user.pii_key
    assert user.phone_hash == pii.blind_index(PHONE)
    # The phone is changed through the API and stays sealed.
    changed = as_user(people.admin).patch(f"/accounts/users/{user.pk}", {"phone": "13987654321"})
    assert changed.status_code == 200 and changed.json()["phone"] == "139****4321"
    assert "13987654321" not in _raw_user_row(user.pk)
    assert User.objects.get(pk=user.pk).phone == "13987654321"


@pytest.mark.django_db
def test_key_rotation_reseals_users(people, settings):
    import io

    from django.core.management import call_command

    user = make_user("rotated", phone=PHONE)
    user.totp_secret = SECRET
    user.save()
    old = settings.GRIDGOV_PII_KEYS
    settings.GRIDGOV_PII_KEYS = pii.generate_key_spec("k9") + "," + old
    call_command("rotate_pii_keys", stdout=io.StringIO())
    settings.GRIDGOV_PII_KEYS = settings.GRIDGOV_PII_KEYS.split(",")[0]  # the old key is gone
    user = User.objects.get(pk=user.pk)
    assert (user.pii_key, user.phone, user.totp_secret) == ("k9", PHONE, SECRET)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_seals_existing_phones_and_secrets():
    from django.db.migrations.executor import MigrationExecutor

    user = make_user("legacy")
    latest = MigrationExecutor(
        connection
    ).loader.graph.leaf_nodes()  # every app: a step back unapplies dependants
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0005_user_language")])  # back: plain text as before
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_user SET phone = %s, totp_secret = %s WHERE id = %s", [PHONE, SECRET, user.pk]
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)  # forward: the existing rows are sealed
    raw = _raw_user_row(user.pk)
    assert PHONE not in raw and SECRET not in raw
    user = User.objects.get(pk=user.pk)
    assert (user.phone, user.totp_secret, user.phone_hash) == (PHONE, SECRET, pii.blind_index(PHONE))
