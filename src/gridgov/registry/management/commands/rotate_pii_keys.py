"""Re-encrypt personal information with the current key (the first of GRIDGOV_PII_KEYS).

    gridgov manage rotate_pii_keys [--batch 5000] [--dry-run]

Rotation: put the new key first in GRIDGOV_PII_KEYS and keep the old ones after it, restart, run this
command, then drop the old keys. Rows are re-encrypted in batches, one transaction each, picked by
`pii_key != current`: the command can be stopped at any time and run again; it continues where it
stopped. Encrypted import files are re-encrypted too. The keyed hashes do not change (their key,
GRIDGOV_PII_HASH_KEY, is separate).
"""

from __future__ import annotations

import io

from django.core.management.base import BaseCommand
from django.db import transaction

from gridgov.registry import jobs, vault
from gridgov.registry.models import Resident, Submission, Unit

TARGETS = (
    (Resident, ("id_enc", "id_number"), ("phone_enc", "phone")),
    (Unit, ("phone_enc", "phone")),
    (Submission, ("payload_enc", "submission")),
)


def rotate(*, batch: int = 5000, dry_run: bool = False, log=print) -> dict[str, int]:
    current = vault.current_key()
    counts: dict[str, int] = {}
    for model, *columns in TARGETS:
        name = model._meta.model_name
        todo = model.objects.exclude(pii_key=current.id).exclude(pii_key="")
        counts[name] = 0
        if dry_run:
            counts[name] = todo.count()
            continue
        last = 0
        while True:
            with transaction.atomic():
                rows = list(todo.filter(pk__gt=last).select_for_update().order_by("pk")[:batch])
                if not rows:
                    break
                for row in rows:
                    for column, field in columns:
                        blob = getattr(row, column)
                        if blob:
                            plain = vault.decrypt(blob, row.pii_key, field)
                            setattr(row, column, vault.encrypt(plain, field, current)[0])
                    row.pii_key = current.id
                model.objects.bulk_update(rows, [c for c, _ in columns] + ["pii_key"])
                last = rows[-1].pk
                counts[name] += len(rows)
            log(f"  {name}: {counts[name]:,} re-encrypted")
    for model in vault.RESEALED_MODELS:  # other apps' sealed rows (cases: reporters' phones)
        name = model._meta.label_lower
        todo = model.objects.exclude(pii_key=current.id).exclude(pii_key="")
        counts[name] = todo.count() if dry_run else 0
        last = 0
        while not dry_run:
            with transaction.atomic():
                rows = list(todo.filter(pk__gt=last).select_for_update().order_by("pk")[:batch])
                if not rows:
                    break
                fields: set[str] = {"pii_key"}
                for row in rows:
                    fields.update(row.reseal(current) or ())
                model.objects.bulk_update(rows, sorted(fields))
                last = rows[-1].pk
                counts[name] += len(rows)
            log(f"  {name}: {counts[name]:,} re-encrypted")
    counts["files"] = 0 if dry_run else _rotate_files(current)
    return counts


def _rotate_files(current) -> int:
    done = 0
    for path in sorted(jobs.storage_dir().glob("*.bin")):
        with open(path, "rb") as f:
            head = f.read(5)
            key_id = f.read(head[4]).decode() if head[:4] == vault.FILE_MAGIC else ""
        if not key_id or key_id == current.id:
            continue
        field = "errors" if path.name.endswith("-errors.bin") else "upload"
        buffer = io.BytesIO()
        vault.decrypt_file(path, buffer, field=field)
        buffer.seek(0)
        tmp = path.with_suffix(".tmp")
        vault.encrypt_file(buffer, tmp, field=field)
        tmp.replace(path)
        done += 1
    return done


class Command(BaseCommand):
    help = "Re-encrypt ID numbers, phones and submissions with the current PII key, in resumable batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--dry-run", action="store_true", help="only count what would be re-encrypted")

    def handle(self, *args, **options):
        current = vault.current_key()
        self.stdout.write(f"Current key: {current.id} ({current.algorithm})")
        counts = rotate(batch=options["batch"], dry_run=options["dry_run"], log=self.stdout.write)
        verb = "to re-encrypt" if options["dry_run"] else "re-encrypted"
        self.stdout.write(", ".join(f"{v:,} {k}" for k, v in counts.items()) + f" {verb}.")
