"""The test settings with a third language added, as an operator would add one: used by
tests/core/test_languages.py in a subprocess (translated columns are made at start-up)."""

from tests.settings import *  # noqa: F403

LANGUAGES = [*LANGUAGES, ("de", "Deutsch")]  # noqa: F405
