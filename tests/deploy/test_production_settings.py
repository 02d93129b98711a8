"""Production is the same settings module with production environment variables: Django's own
deployment checklist (`check --deploy`) must come out clean, and weak set-ups must not."""

import re
import secrets
import subprocess
import sys

from tests.helpers import REPO_ROOT, process_environment, settings_of

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "achievements_site.settings",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "achievements.example.com",
    "DATABASE_URL": "postgres://achievements:secret@db.internal:5432/achievements",
}
# What the plain-HTTP try-out block of .env.example turns off.
TRY_OUT = {
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
}


def check_deploy(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env={**process_environment(), **PRODUCTION, **environment},
        capture_output=True,
        text=True,
    )


def warnings(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"\(security\.(W\d+)\)", result.stderr + result.stdout))


def env_example() -> dict[str, str]:
    text = (REPO_ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


def test_production_environment_passes_the_deployment_checklist():
    result = check_deploy(SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_a_weak_secret_key_fails_the_checklist():
    result = check_deploy(SECRET_KEY="changeme")

    assert result.returncode != 0
    assert "W009" in warnings(result)


def test_a_missing_secret_key_stops_django_from_starting():
    result = check_deploy(SECRET_KEY="")

    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_env_example_differs_from_production_only_by_its_try_out_block():
    example = {**env_example(), "SECRET_KEY": secrets.token_urlsafe(50)}
    as_shipped = check_deploy(**example)
    without_try_out = check_deploy(
        **{name: value for name, value in example.items() if name not in TRY_OUT}
    )

    # HSTS, SSL redirect, session and CSRF cookies: the four things plain HTTP cannot have.
    assert warnings(as_shipped) == {"W004", "W008", "W012", "W016"}
    assert without_try_out.returncode == 0, without_try_out.stderr


def test_hsts_covers_subdomains_and_asks_for_preload_only_when_the_operator_opts_in():
    key = secrets.token_urlsafe(50)
    names = ("SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
    default = settings_of(process_environment(**PRODUCTION, SECRET_KEY=key), *names)
    opted_in = settings_of(
        process_environment(
            **PRODUCTION,
            SECRET_KEY=key,
            SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
            SECURE_HSTS_PRELOAD="1",
        ),
        *names,
    )

    assert default == [31536000, False, False]
    assert opted_in == [31536000, True, True]
    assert check_deploy(SECRET_KEY=key, SECURE_HSTS_PRELOAD="1").returncode == 0
