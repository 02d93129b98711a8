"""`manage.py create_api_token NAME`: an integration account and its token, on stdout alone."""

from django.core.management.base import BaseCommand, CommandError

from achievements.accounts import integration_account_ensure


class Command(BaseCommand):
    help = (
        "Create (or reuse) the integration account NAME, allowed to manage users, achievements "
        "and awards, and print only its API token."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="account name, e.g. the integrating game")

    def handle(self, *args, name, **options):
        name = name.strip()
        if not name or len(name) > 150:
            raise CommandError("NAME must be 1 to 150 characters.")
        self.stdout.write(integration_account_ensure(name=name))
