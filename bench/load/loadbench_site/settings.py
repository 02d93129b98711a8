"""The production settings, with the bench URLconf on top (the floor views)."""

from achievements_site.settings import *  # noqa: F403

ROOT_URLCONF = "loadbench_site.urls"
