"""`manage.py seed_demo_data`: the bilingual demo, or a large reproducible set for benchmarks."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from achievements.accounts import integration_account_ensure, operator_ensure
from achievements.seeding import bench_seed, demo_seed
from core.logging import details_at_debug

# The services seeding writes through log each row at INFO; while seeding those lines are
# details (DEBUG), and the seeding's own summary stays at INFO.
ROW_LOGGERS = (
    "users.services",
    "achievements.accounts",
    "achievements.services.awards",
    "achievements.services.bulk",
    "achievements.services.catalog",
    "achievements.services.figures",
    "achievements.services.progress",
    "events.services",
    "events.rules",
)

DEMO_OPERATOR = ("admin", "admin")
DEMO_INTEGRATION = "demo-integration"


class Command(BaseCommand):
    help = (
        "Fill the database with a bilingual demo catalog, users and awards. With --users and "
        "--awards, add a large reproducible set for benchmarks. Running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, help="benchmark users to add")
        parser.add_argument("--awards", type=int, help="benchmark awards to add")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--days", type=int, default=120, help="spread awards over N days")

    def handle(self, *args, users=None, awards=None, seed=1, days=120, **options):
        if (users is None) != (awards is None):
            raise CommandError("--users and --awards go together.")
        started = time.monotonic()
        # A progress display rewrites its line with \r: only a terminal shows that as intended.
        interactive = options["verbosity"] > 0 and self.stdout.isatty()
        progress = self._progress if interactive else (lambda *a: None)
        try:
            with details_at_debug(*ROW_LOGGERS):
                report = self._seed(users, awards, seed, days, progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self._end_progress()
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {report.achievements_created} achievements, {report.users_created} "
                f"players and {report.awards_created} awards in "
                f"{time.monotonic() - started:.1f}s."
            )
        )
        if settings.DEBUG:
            with details_at_debug(*ROW_LOGGERS):
                self._print_demo_access()

    def _seed(self, users, awards, seed, days, progress):
        if users is None:
            return demo_seed(progress=progress)
        if users < 1 or awards < 0:
            raise CommandError("--users must be at least 1 and --awards at least 0.")
        return bench_seed(users=users, awards=awards, seed=seed, days=days, progress=progress)

    def _print_demo_access(self):
        created = operator_ensure(*DEMO_OPERATOR)
        token = integration_account_ensure(name=DEMO_INTEGRATION)
        username, password = DEMO_OPERATOR
        # Last, framed and bold: what the operator came for must not scroll away in the logs.
        rule = "=" * 78
        self.stdout.write(
            self.style.HTTP_INFO(
                f"\n{rule}\n"
                "  Demo access (DEBUG only)\n"
                f"  admin:     http://127.0.0.1:8000/admin/  user {username!r}, "
                f"password {password!r}{' (created)' if created else ''}\n"
                f"  API token: {token}  (integration account {DEMO_INTEGRATION!r})\n"
                f'  try:       curl -H "Authorization: Token {token}" '
                "http://127.0.0.1:8000/api/v1/users/\n"
                f"{rule}"
            )
        )

    _last_stage = None

    def _progress(self, stage: str, done: int, total: int) -> None:
        line = f"\r  {stage:<12} {done:>9,}/{total:,}"
        if self._last_stage not in (None, stage):
            line = "\n" + line.lstrip("\r")
        self._last_stage = stage
        self.stdout.write(line, ending="")
        self.stdout.flush()

    def _end_progress(self):
        if self._last_stage is not None:
            self.stdout.write("")
        sys.stdout.flush()
