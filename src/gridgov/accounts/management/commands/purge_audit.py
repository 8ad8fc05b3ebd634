"""`gridgov manage purge_audit --older-than-days N`: delete security audit events older than N days
(N ≥ GRIDGOV_AUDIT_RETENTION_DAYS; the purge itself is recorded)."""

from django.core.management.base import BaseCommand, CommandError

from gridgov.accounts.services import purge_audit
from gridgov.core.errors import ApiError


class Command(BaseCommand):
    help = "Delete security audit events older than the given number of days (never inside the retention period)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, required=True)

    def handle(self, *args, **options):
        try:
            deleted = purge_audit(options["older_than_days"])
        except ApiError as exc:
            raise CommandError("; ".join(e["message"] for e in exc.errors) or exc.detail) from exc
        self.stdout.write(f"deleted {deleted} audit events")
