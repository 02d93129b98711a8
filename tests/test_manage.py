"""`manage.py` for someone who has not configured anything yet: every custom command says in one
line what to set, and `manage.py help` still lists them all."""

import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT, process_environment

CUSTOM_COMMANDS = sorted(
    path.stem
    for path in REPO_ROOT.glob("*/management/commands/*.py")
    if not path.stem.startswith("_")
)


def manage(*arguments: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_ROOT,
        env=process_environment(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_project_has_custom_commands_to_check():
    assert {"seed_demo_data", "rebuild_stats", "create_api_token"} <= set(CUSTOM_COMMANDS)


@pytest.mark.parametrize("command", CUSTOM_COMMANDS)
def test_a_custom_command_without_secret_key_or_debug_says_what_to_set(command):
    result = manage(command)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"manage.py {command}: Set SECRET_KEY")
    assert "DEBUG=1" in lines[0]


def test_help_lists_the_custom_commands_without_any_configuration():
    result = manage("help")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    listed = {line.strip() for line in result.stdout.splitlines()}
    assert set(CUSTOM_COMMANDS) <= listed


def test_debug_alone_is_enough_to_run_a_custom_command():
    result = manage("create_api_token", " ", DEBUG="1", DATABASE_URL="sqlite://:memory:")

    # The command itself ran and judged its argument: the settings loaded.
    assert "NAME must be 1 to 150 characters" in result.stderr
    assert "SECRET_KEY" not in result.stderr
