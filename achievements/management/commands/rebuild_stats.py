"""`manage.py rebuild_stats [--check]`: recompute every user's figures and every period's
figures from the awards."""

from django.core.management.base import BaseCommand, CommandError

from achievements.services.figures import (
    figures_check,
    figures_rebuild,
    period_figures_check,
    period_figures_rebuild,
)


class Command(BaseCommand):
    help = (
        "Recompute each user's achievement count, points and longest streak (days in the "
        "user's time zone), and each period's figures behind the period leaderboards, from the "
        "awards (set-based). With --check, change nothing: list what differs and exit non-zero "
        "if anything does. Run it after changing TIME_ZONE."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="only report differences; exit 1 if any"
        )

    def handle(self, *args, check=False, **options):
        mismatches = figures_check() if check else figures_rebuild()
        for mismatch in mismatches:
            changed = {
                name: f"{mismatch.stored[name]} -> {mismatch.expected[name]}"
                for name in mismatch.stored
                if mismatch.stored[name] != mismatch.expected[name]
            }
            self.stdout.write(f"{mismatch.username}: {changed}")
        periods = period_figures_check() if check else period_figures_rebuild()
        for period in periods:
            self.stdout.write(
                f"{period.username} {period.kind} {period.start}: "
                f"{period.stored} -> {period.expected}"
            )
        verb = "differ" if check else "corrected"
        if check and (mismatches or periods):
            raise CommandError(
                f"{len(mismatches)} user(s) and {len(periods)} period row(s) have figures "
                "that differ from the awards."
            )
        self.stdout.write(
            self.style.SUCCESS(f"{len(mismatches)} user(s), {len(periods)} period row(s) {verb}.")
        )
