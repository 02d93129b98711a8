"""The README's configuration table is the operator's list of knobs: it names every
environment variable the settings read, and nothing they do not."""

import re

from tests.helpers import REPO_ROOT, settings_variables


def configuration_table_variables() -> set[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for row in re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE):
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", row))
    return names


def test_the_configuration_table_lists_every_variable_the_settings_read():
    assert settings_variables() - configuration_table_variables() == set()


def test_the_configuration_table_lists_no_variable_the_settings_ignore():
    assert configuration_table_variables() - settings_variables() == set()


def test_the_development_example_sets_only_variables_the_settings_read():
    text = (REPO_ROOT / ".env.development.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    assert "DEBUG" in named
    assert named <= settings_variables()
