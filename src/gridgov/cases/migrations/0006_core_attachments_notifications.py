"""Photos and notifications of cases move to the core tables (core.Attachment, core.Notification):
the rows are copied with the same ids, files and texts, owned by their case through a generic
reference, then the cases tables are removed. Reversible: going back copies the case-owned core rows
into the recreated cases tables."""

import datetime as dt
import zoneinfo

from django.db import migrations

CASE_PHOTO = "cases.photo"
BATCH = 2000


def _case_type(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    return ContentType.objects.get_or_create(app_label="cases", model="case")[0]


def _local(iso: str) -> str:
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    return dt.datetime.fromisoformat(iso).astimezone(shanghai).strftime("%Y-%m-%d %H:%M")


def forward(apps, schema_editor):
    Old = apps.get_model("cases", "Attachment")
    OldNote = apps.get_model("cases", "Notification")
    New = apps.get_model("core", "Attachment")
    Note = apps.get_model("core", "Notification")
    Step = apps.get_model("cases", "Step")
    case_type = _case_type(apps)

    rows = [
        New(
            id=a.id,
            purpose=CASE_PHOTO,
            uploaded_by_id=a.uploaded_by_id,
            owner_type=case_type if a.case_id else None,
            owner_id=a.case_id,
            file=a.file.name,
            thumbnail="",  # made on first request (core.attachments.read_bytes)
            encrypted=False,
            original_name=a.original_name,
            content_type=a.content_type,
            size=a.size,
            width=a.width,
            height=a.height,
            sha256=a.sha256,
            created_at=a.created_at,
        )
        for a in Old.objects.all().iterator(chunk_size=BATCH)
    ]
    New.objects.bulk_create(rows, batch_size=BATCH)

    # The facts of a notification are what its template needs: the case number, and for deadline
    # warnings the local due time and the department of the step.
    departments = {}
    batch = []
    for n in OldNote.objects.select_related("case").order_by("id").iterator(chunk_size=BATCH):
        facts = {**(n.data or {}), "number": n.case.number}
        if n.kind == "outcome":
            facts.setdefault("number", facts.get("case") or n.case.number)
        elif n.data.get("due_at"):
            facts["due"] = _local(n.data["due_at"])
            step_id = n.data.get("step_id")
            if step_id and step_id not in departments:
                departments[step_id] = (
                    Step.objects.filter(pk=step_id).values_list("target__name", flat=True).first() or ""
                )
            facts["department"] = departments.get(step_id, "") if step_id else ""
        batch.append(
            Note(
                id=n.id,
                recipient_id=n.recipient_id,
                kind=n.kind,
                facts=facts,
                message=n.message,
                owner_type=case_type,
                owner_id=n.case_id,
                created_at=n.created_at,
                read_at=n.read_at,
            )
        )
        if len(batch) >= BATCH:
            Note.objects.bulk_create(batch)
            batch = []
    Note.objects.bulk_create(batch)
    _reset_sequence(schema_editor, Note)


def _reset_sequence(schema_editor, model):
    """Rows were written with their old ids; on PostgreSQL the id sequence must move past them."""
    if schema_editor.connection.vendor != "postgresql":
        return
    table = model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 1), (SELECT COUNT(*) > 0 FROM {table}))"
        )


def backward(apps, schema_editor):
    Old = apps.get_model("cases", "Attachment")
    OldNote = apps.get_model("cases", "Notification")
    New = apps.get_model("core", "Attachment")
    Note = apps.get_model("core", "Notification")
    case_type = _case_type(apps)
    photos = New.objects.filter(purpose=CASE_PHOTO)
    Old.objects.bulk_create(
        [
            Old(
                id=a.id,
                uploaded_by_id=a.uploaded_by_id,
                case_id=a.owner_id if a.owner_type_id == case_type.pk else None,
                file=a.file.name,
                original_name=a.original_name,
                content_type=a.content_type,
                size=a.size,
                width=a.width,
                height=a.height,
                sha256=a.sha256,
                created_at=a.created_at,
            )
            for a in photos
        ],
        batch_size=BATCH,
    )
    photos.delete()
    notes = Note.objects.filter(owner_type=case_type)
    OldNote.objects.bulk_create(
        [
            OldNote(
                id=n.id,
                recipient_id=n.recipient_id,
                case_id=n.owner_id,
                kind=n.kind,
                message=n.message,
                data={k: v for k, v in n.facts.items() if k not in ("number", "due", "department", "action")},
                created_at=n.created_at,
                read_at=n.read_at,
            )
            for n in notes
        ],
        batch_size=BATCH,
    )
    notes.delete()
    _reset_sequence(schema_editor, OldNote)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0005_timeline_chain"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0004_attachments_notifications"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="Notification"),
        migrations.DeleteModel(name="Attachment"),
    ]
