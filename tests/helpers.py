"""Helpers the test packages share (fixtures live in tests/conftest.py)."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
# Debian's Chromium, which the browser tests drive through Playwright.
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTINGS_PATH = REPO_ROOT / "achievements_site" / "settings.py"


# Names asked for a user registered as "Case_User", and whether each must find it: any case of
# the ASCII name does; a look-alike (the Kelvin sign lower-cases to "k"), a NUL or another
# name does not.
CASE_USER_LOOKUPS = [
    ("Case_User", True),
    ("case_user", True),
    ("CASE_USER", True),
    ("case_\u212aser", False),
    ("case\x00user", False),
    ("ghost", False),
]


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


def process_environment(**variables: str) -> dict[str, str]:
    """A minimal environment for a process the test starts (gunicorn, manage.py, nginx):
    this virtualenv first on PATH, and nothing of the developer's Django variables or `.env`."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "ENV_FILE": "",
        **variables,
    }


def settings_of(env: dict[str, str], *expressions: str) -> list:
    """What `settings.<expression>` evaluates to in a fresh process with `env` (the real
    settings module, not the test settings), for checking defaults."""
    code = (
        "import json, sys, django\n"
        "from django.conf import settings\n"
        "django.setup()\n"
        "print(json.dumps([eval('settings.' + e) for e in sys.argv[1:]]))\n"
    )
    env = {"DJANGO_SETTINGS_MODULE": "achievements_site.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", code, *expressions],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def skip_or_fail(reason: str) -> None:
    """Skip here; in CI (env CI set), where the test must run, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this test must run)")
    pytest.skip(reason)


def token_client(key: str) -> APIClient:
    """An API client that sends `Authorization: Token <key>` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def text(response) -> str:
    """The response body as text, for `in` checks."""
    return response.content.decode()


def fallback_catalog():
    """Achievements whose texts exercise the language fallback and JSON escaping: a full
    Russian translation, an empty and a missing one (English shown), characters JSON escapes,
    and a hidden entry."""
    from tests.factories import AchievementFactory

    return [
        AchievementFactory(code="full", points=5, name_ru="Полный", description_ru="Всё"),
        AchievementFactory(code="empty-ru", points=7, name_ru="", description_ru=""),
        AchievementFactory(code="null-ru", points=9, name_ru=None, description_ru=None),
        AchievementFactory(
            code="quotes",
            points=1,
            name_en='Say "hi"\\ \u2028 <b>',
            name_ru="Скажи «привет»\u2029",
            description_en="tab\there\nline",
            description_ru="",
        ),
        AchievementFactory(code="secret", points=3, hidden=True),
    ]


def run_together(jobs: list[Callable[[], object]], timeout: float = 60) -> list[object]:
    """Run each job in its own thread, all started at once; return their results in order.

    Each thread has its own database connection, opened before a barrier releases them all
    and closed when it ends. Fails the test if any job raised (a deadlock or lock timeout
    included) or hung for `timeout` seconds.
    """
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(index: int, job: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the barrier releases real work
            barrier.wait(timeout=timeout)
            results[index] = job()
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not [t for t in threads if t.is_alive()], "a thread hung: lock wait or deadlock"
    assert errors == [], f"{len(errors)} thread(s) failed, first: {errors[0]!r}"
    return results
