#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that only read the models, or list the commands, never sign anything, so they need
# no real SECRET_KEY; every other command (and the WSGI app) still refuses to start without one
# unless DEBUG.
MODEL_ONLY_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "spectacular"}
HELP_COMMANDS = {"help", "--help", "-h", "--version", "version"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in MODEL_ONLY_COMMANDS | HELP_COMMANDS:
        os.environ.setdefault("SECRET_KEY", "placeholder-for-model-only-commands")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings, which check the environment
    except ImproperlyConfigured as exc:
        # A configuration mistake is the operator's to fix: one line saying what, no traceback.
        sys.stderr.write(f"manage.py {command}: {exc}\n")
        sys.exit(2)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
