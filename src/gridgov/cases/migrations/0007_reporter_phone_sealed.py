"""Reporters' phones encrypted at rest: `reporter_phone` (plain text) becomes `reporter_phone_enc` +
`reporter_phone_hash` + `pii_key`, and the phones inside `merged_reporters` become sealed entries. The
data migration seals the existing rows in batches; the plain column is dropped afterwards."""

from django.db import migrations, models

BATCH = 2000


def seal_phones(apps, schema_editor):
    from gridgov.core import pii

    Case = apps.get_model("cases", "Case")
    qs = Case.objects.exclude(reporter_phone="") | Case.objects.exclude(merged_reporters=[])
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return
    sealer = pii.BatchSealer()
    for start in range(0, len(ids), BATCH):
        rows = list(Case.objects.filter(pk__in=ids[start : start + BATCH]).order_by("pk"))
        phones = [(r.reporter_phone or "").strip() for r in rows]
        for row, phone, blob, digest in zip(
            rows, phones, sealer.seal(phones, "case.reporter_phone"), sealer.hashes(phones), strict=True
        ):
            row.reporter_phone_enc, row.reporter_phone_hash = blob, digest
            row.pii_key = sealer.key.id
            merged = []
            for entry in row.merged_reporters or []:
                entry = dict(entry)
                phone = (entry.pop("phone", "") or "").strip()
                if "phone_sealed" not in entry:
                    entry["phone_sealed"] = pii.seal_json(phone, "case.merged_reporter_phone", sealer.key)
                merged.append(entry)
            row.merged_reporters = merged
        Case.objects.bulk_update(
            rows, ["reporter_phone_enc", "reporter_phone_hash", "pii_key", "merged_reporters"]
        )


def unseal_phones(apps, schema_editor):
    from gridgov.core import pii

    Case = apps.get_model("cases", "Case")
    for row in Case.objects.exclude(pii_key="").iterator(chunk_size=BATCH):
        row.reporter_phone = pii.decrypt(row.reporter_phone_enc, row.pii_key, "case.reporter_phone")
        row.merged_reporters = [
            {
                **{k: v for k, v in e.items() if k != "phone_sealed"},
                "phone": pii.open_json(e.get("phone_sealed"), "case.merged_reporter_phone"),
            }
            for e in row.merged_reporters or []
        ]
        row.save(update_fields=["reporter_phone", "merged_reporters"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0006_core_attachments_notifications")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="reporter_phone_enc",
            field=models.BinaryField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="case",
            name="reporter_phone_hash",
            field=models.CharField(blank=True, db_index=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="case",
            name="pii_key",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunPython(seal_phones, unseal_phones),
        migrations.RemoveField(model_name="case", name="reporter_phone"),
    ]
