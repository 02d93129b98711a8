"""`manage.py rebuild_stats [--check]`: recompute every user's figures from the awards."""

from django.core.management.base import BaseCommand, CommandError

from achievements.services.figures import figures_check, figures_rebuild


class Command(BaseCommand):
    help = (
        "Recompute each user's achievement count, points and longest streak from the awards "
        "(set-based). With --check, change nothing: list users whose stored figures differ and "
        "exit non-zero if any do. Run it after changing TIME_ZONE."
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
        if check and mismatches:
            raise CommandError(f"{len(mismatches)} user(s) have figures that differ from awards.")
        verb = "differ" if check else "corrected"
        self.stdout.write(self.style.SUCCESS(f"{len(mismatches)} user(s) {verb}."))
