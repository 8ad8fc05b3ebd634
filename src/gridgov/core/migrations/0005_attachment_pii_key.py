from django.db import migrations, models

LEGACY_KEY = "hkdf:v1"  # core.attachments.LEGACY_KEY: files sealed with the key derived from SECRET_KEY


def mark_legacy(apps, schema_editor):
    """Encrypted attachments stored so far were sealed with the key derived from SECRET_KEY: they keep
    opening (core.attachments reads that format) and `rotate_pii_keys` moves them onto the key ring."""
    apps.get_model("core", "Attachment").objects.filter(encrypted=True).update(pii_key=LEGACY_KEY)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_attachments_notifications"),
    ]

    operations = [
        migrations.AddField(
            model_name="attachment",
            name="pii_key",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunPython(mark_legacy, migrations.RunPython.noop),
    ]
