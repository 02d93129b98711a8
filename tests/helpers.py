"""Helpers the test packages share (fixtures live in tests/conftest.py)."""

import os
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PATH = REPO_ROOT / "achievements_site" / "settings.py"


def settings_variables() -> set[str]:
    """Every environment variable the settings read."""
    text = SETTINGS_PATH.read_text(encoding="utf-8")
    return set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""", text))


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment less every variable the settings read, and no env file: a
    subprocess then sees only what the test gives it, never the developer's `.env`."""
    dropped = settings_variables()
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["ENV_FILE"] = ""
    env.update(overrides)
    return env
