"""`manage.py rebuild_stats [--check]`: recompute every user's figures and every period's
figures from the awards, and every other registered stored figure (events' measures) from its
source."""

from django.core.management.base import BaseCommand, CommandError

from achievements.services.figures import (
    figures_check,
    figures_rebuild,
    period_figures_check,
    period_figures_rebuild,
)
from core import consistency


class Command(BaseCommand):
    help = (
        "Recompute each user's achievement count, points and longest streak (days in the "
        "user's time zone), each period's figures behind the period leaderboards, from the "
        "awards, and every registered derived figure (e.g. event measures) from its source "
        "(set-based). With --check, change nothing: list what differs and exit non-zero if "
        "anything does. Run it after changing TIME_ZONE."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="only report differences; exit 1 if any"
        )

    def handle(self, *args, check=False, **options):
        verb = "differ" if check else "corrected"
        mismatches = figures_check() if check else figures_rebuild()
        for mismatch in mismatches:
            self.stdout.write(f"{mismatch.username}: {_changes(mismatch)}")
        periods = period_figures_check() if check else period_figures_rebuild()
        for period in periods:
            self.stdout.write(
                f"{period.username} {period.kind} {period.start}: "
                f"{period.stored} -> {period.expected}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"{len(mismatches)} user(s), {len(periods)} period row(s) {verb}.")
        )
        problems = []
        if mismatches:
            problems.append(f"{len(mismatches)} user(s) have figures that differ from awards")
        if periods:
            problems.append(f"{len(periods)} period row(s) differ from the awards")
        for kind in consistency.registered():
            found = kind.check() if check else kind.rebuild()
            for mismatch in found:
                self.stdout.write(f"{kind.name} {mismatch.name}: {_changes(mismatch)}")
            self.stdout.write(self.style.SUCCESS(f"{len(found)} {kind.name} row(s) {verb}."))
            if found:
                problems.append(f"{len(found)} {kind.name} row(s) differ from their source")
        if check and problems:
            raise CommandError("; ".join(problems) + ".")


def _changes(mismatch) -> dict:
    return {
        name: f"{mismatch.stored[name]} -> {mismatch.expected[name]}"
        for name in mismatch.stored
        if mismatch.stored[name] != mismatch.expected[name]
    }
