#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that only read the models never sign anything, so they need no real SECRET_KEY;
# every other command (and the WSGI app) still refuses to start without one unless DEBUG.
MODEL_ONLY_COMMANDS = {"makemigrations", "showmigrations", "sqlmigrate", "spectacular"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
    if len(sys.argv) > 1 and sys.argv[1] in MODEL_ONLY_COMMANDS:
        os.environ.setdefault("SECRET_KEY", "placeholder-for-model-only-commands")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
