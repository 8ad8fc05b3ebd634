"""Remove the metadata (GPS position, device, time, comments) of photos stored before uploads were cleaned.

    gridgov manage strip_photo_metadata [--dry-run]

Each stored photo that still carries EXIF, XMP, IPTC or comments is turned upright and saved again
without them (an encrypted one stays encrypted, with the current personal-data key), and its thumbnail
is made again; photos without metadata are left alone. One photo per transaction: the command can be
stopped and run again.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from django.core.management.base import BaseCommand
from django.db import transaction

from gridgov.core import attachments, pii
from gridgov.core.models import Attachment


def strip_all(*, dry_run: bool = False, log=print) -> dict[str, int]:
    counts = {"checked": 0, "cleaned": 0, "unreadable": 0}
    for pk in Attachment.objects.order_by("pk").values_list("pk", flat=True).iterator():
        with transaction.atomic():
            attachment = Attachment.objects.select_for_update().filter(pk=pk).first()
            if attachment is None:
                continue
            counts["checked"] += 1
            try:
                cleaned = attachments.strip_metadata(attachment, dry_run=dry_run)
            except (
                OSError,
                ValueError,
                InvalidTag,
                pii.VaultError,
            ) as exc:  # a missing or damaged file: reported, not fatal
                counts["unreadable"] += 1
                log(f"  {pk}: cannot be read ({exc.__class__.__name__})")
                continue
            counts["cleaned"] += int(cleaned)
    return counts


class Command(BaseCommand):
    help = "Remove GPS position, device and other metadata from the photos already stored."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count the photos with metadata")

    def handle(self, *args, **options):
        counts = strip_all(dry_run=options["dry_run"], log=self.stdout.write)
        verb = "carry metadata" if options["dry_run"] else "cleaned"
        self.stdout.write(
            f"{counts['checked']:,} photos checked, {counts['cleaned']:,} {verb}, {counts['unreadable']:,} unreadable."
        )
