"""Accounts hardening: users' phones and TOTP secrets encrypted at rest (`phone` → `phone_enc` +
`phone_hash` + `pii_key`, `totp_secret` → `totp_secret_enc`; the data migration seals existing rows and
the plain columns are dropped afterwards), the administrator-set password that must be changed, and the
per-address login lock of administrators."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH = 2000


def seal(apps, schema_editor):
    from gridgov.core import pii

    User = apps.get_model("accounts", "User")
    key = pii.current_key()
    qs = User.objects.exclude(phone="") | User.objects.exclude(totp_secret="")
    for row in qs.order_by("pk").iterator(chunk_size=BATCH):
        phone, secret = (row.phone or "").strip(), row.totp_secret or ""
        row.phone_enc = pii.encrypt(phone, "user.phone", key)[0] if phone else None
        row.phone_hash = pii.blind_index(phone) if phone else ""
        row.totp_secret_enc = pii.encrypt(secret, "user.totp_secret", key)[0] if secret else None
        row.pii_key = key.id
        row.save(update_fields=["phone_enc", "phone_hash", "totp_secret_enc", "pii_key"])


def unseal(apps, schema_editor):
    from gridgov.core import pii

    User = apps.get_model("accounts", "User")
    for row in User.objects.exclude(pii_key="").iterator(chunk_size=BATCH):
        row.phone = pii.decrypt(row.phone_enc, row.pii_key, "user.phone")
        row.totp_secret = pii.decrypt(row.totp_secret_enc, row.pii_key, "user.totp_secret")
        row.save(update_fields=["phone", "totp_secret"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_user_language")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="must_change_password",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="user",
            name="phone_enc",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="user",
            name="phone_hash",
            field=models.CharField(blank=True, db_index=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="user",
            name="pii_key",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="user",
            name="totp_secret_enc",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.RunPython(seal, unseal),
        migrations.RemoveField(model_name="user", name="phone"),
        migrations.RemoveField(model_name="user", name="totp_secret"),
        migrations.CreateModel(
            name="LoginLock",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address", models.CharField(blank=True, default="", max_length=45)),
                ("failed_logins", models.PositiveSmallIntegerField(default=0)),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "address"), name="login_lock_unique")
                ],
            },
        ),
    ]
