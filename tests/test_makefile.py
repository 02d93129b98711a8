"""The Makefile's front door: `make` with no target explains itself instead of building."""

import re
import shutil
import subprocess

from tests.helpers import REPO_ROOT, process_environment, skip_or_fail


def make(*arguments: str) -> subprocess.CompletedProcess:
    if shutil.which("make") is None:
        skip_or_fail("make is not installed")
    return subprocess.run(
        ["make", "-s", *arguments],
        cwd=REPO_ROOT,
        env=process_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def documented_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^## ([a-z0-9-]+): ", text, flags=re.MULTILINE))


def test_make_without_a_target_prints_the_help_and_builds_nothing():
    result = make("-n")  # -n: were it to build, the commands would show here instead of running
    assert result.returncode == 0, result.stderr
    assert "-m venv" not in result.stdout
    assert "pip install" not in result.stdout

    shown = make()
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Targets (make TARGET):")
    listed = set(re.findall(r"^  ([a-z0-9-]+) +\S", shown.stdout, flags=re.MULTILINE))
    assert listed == documented_targets()
    assert {"run", "test", "help"} <= listed


def test_every_phony_target_has_a_help_line():
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set(re.search(r"^\.PHONY: (.+)$", text, flags=re.MULTILINE).group(1).split())
    assert phony == documented_targets()
