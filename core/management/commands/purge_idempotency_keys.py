"""`manage.py purge_idempotency_keys`: remove stored Idempotency-Key responses past their time."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from core.idempotency import KEY_LIFETIME, idempotency_records_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than --hours (at least 24). Run it daily."

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=int,
            default=int(KEY_LIFETIME.total_seconds() // 3600),
            help="Age in hours past which records go (minimum and default: 24).",
        )

    def handle(self, *args, hours: int, **options):
        deleted = idempotency_records_purge(older_than=timedelta(hours=hours))
        self.stdout.write(f"{deleted} idempotency key(s) removed.")
