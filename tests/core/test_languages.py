"""Languages come from settings.LANGUAGES alone: adding one is a settings change plus
`makemigrations`, and the API, serializers, admin and seeding follow."""

import os
import subprocess
import sys
import textwrap

import pytest
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.test import RequestFactory, override_settings
from django.utils import translation

from core.languages import UnsupportedLanguage, language_codes, request_language
from core.middleware import LocaleMiddleware
from tests.helpers import REPO_ROOT, clean_environment

THIRD_LANGUAGE_SCRIPT = textwrap.dedent(
    """

    import django
    from django.conf import settings

    # The translated columns are made from the models, as the migration above would make them.
    from tests.test_architecture import DEPENDENCY_ORDER

    settings.MIGRATION_MODULES = dict.fromkeys(DEPENDENCY_ORDER)
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from achievements.accounts import integration_account_ensure
    from achievements.seeding import demo_seed

    call_command("migrate", run_syncdb=True, verbosity=0)
    api = Client(headers={"Authorization": "Token " + integration_account_ensure(name="game")})

    created = api.post(
        "/api/v1/achievements/",
        {"points": 5, "name_en": "Hello", "description_en": "Say hello.",
         "name_de": "Hallo", "description_de": "Sag hallo."},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["name_de"] == "Hallo"
    german = api.get("/api/v1/achievements/hello/?lang=de")
    assert (german.json()["name"], german["Content-Language"]) == ("Hallo", "de"), german
    negotiated = api.get("/api/v1/achievements/hello/", headers={"Accept-Language": "de-AT"})
    assert negotiated.json()["description"] == "Sag hallo.", negotiated.content

    user = api.post("/api/v1/users/", {"username": "hans", "language": "de"},
                    content_type="application/json")
    assert user.status_code == 201, user.content
    award = api.post("/api/v1/users/hans/achievements/", {"achievement": "hello"},
                     content_type="application/json")
    assert award.status_code == 201, award.content
    awards = api.get("/api/v1/users/hans/achievements/")
    assert awards["Content-Language"] == "de" and awards.json()["results"][0]["name"] == "Hallo"

    get_user_model().objects.create_superuser("op", "", "pw")
    operator = Client()
    operator.login(username="op", password="pw")
    form = operator.get("/admin/achievements/achievement/add/").content.decode()
    assert 'name="name_de"' in form and 'name="description_de"' in form

    report = demo_seed()
    assert report.achievements_created >= 25, report
    fallback = api.get("/api/v1/achievements/?lang=de&limit=1000").json()["results"]
    assert all(entry["name"] == entry["name_en"] for entry in fallback if entry["name_de"] is None)
    print("third language OK")
    """
)


def _run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _third_language_env(**extra) -> dict:
    return clean_environment(
        DJANGO_SETTINGS_MODULE="tests.settings_third_language",
        DATABASE_URL="sqlite://:memory:",
        ALLOWED_HOSTS="testserver",
        **extra,
    )


def test_a_third_language_needs_only_a_migration_of_the_translated_columns():
    result = _run(
        sys.executable, "manage.py", "makemigrations", "--dry-run", env=_third_language_env()
    )

    assert result.returncode == 0, result.stderr
    assert "Add field name_de to achievement" in result.stdout
    assert "Add field description_de to achievement" in result.stdout


def test_with_a_third_language_the_api_admin_and_seeding_work_in_it():
    env = _third_language_env(PYTHONPATH=str(REPO_ROOT))
    result = _run(sys.executable, "-c", THIRD_LANGUAGE_SCRIPT, env=env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "third language OK" in result.stdout


def test_the_default_language_comes_first_whatever_the_settings_order():
    with override_settings(LANGUAGES=[("ru", "Русский"), ("en", "English")]):
        assert language_codes() == ["en", "ru"]


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("?lang=ru", "en", "ru"),
        ("", "ru-RU,en;q=0.5", "ru"),
        ("", "de, ru;q=0.3", "ru"),
        ("", "de", "en"),
        ("", "", "en"),
    ],
)
def test_the_chooser_takes_lang_then_accept_language_then_english(query, header, expected):
    request = RequestFactory().get(f"/{query}", headers={"Accept-Language": header})

    assert request_language(request) == expected


def test_an_unknown_lang_is_an_error_for_the_api_and_ignored_by_the_pages():
    request = RequestFactory().get("/?lang=xx", headers={"Accept-Language": "ru"})

    with pytest.raises(UnsupportedLanguage):
        request_language(request)
    assert request_language(request, strict=False) == "ru"


def test_the_environment_helper_drops_the_developers_dotenv_variables(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://elsewhere/db")

    assert "DATABASE_URL" not in clean_environment()
    assert os.environ["DATABASE_URL"] == "postgres://elsewhere/db"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept-Language": "ru-RU,en;q=0.5"},
        {"Accept-Language": "de"},
        {"Cookie": "django_language=ru"},
    ],
)
@pytest.mark.parametrize("path", ["/", "/api/v1/users/", "/ru/achievements/"])
def test_the_locale_middleware_answers_as_djangos_without_i18n_patterns(headers, path):
    """core.middleware.LocaleMiddleware skips the path-prefix lookups, which no URL uses here;
    the language, Content-Language and Vary are Django's."""

    def seen(middleware_class):
        request = RequestFactory().get(path, headers=headers)
        response = middleware_class(lambda request: HttpResponse())(request)
        translation.deactivate()
        return request.LANGUAGE_CODE, response["Content-Language"], response["Vary"]

    assert seen(LocaleMiddleware) == seen(DjangoLocaleMiddleware)
