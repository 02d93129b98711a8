"""The interface language: chosen by ?lang=, the switcher's cookie or Accept-Language; the
Russian catalog is complete and compiled."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django.utils.translation import ngettext

from tests.helpers import text

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES"
PAGES = ["/", "/leaderboard/", "/streaks/", "/search/?q=a", "/achievements/", "/users/anna/"]


def russian_client() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    return client


def test_pages_are_in_english_by_default(scene):
    response = Client().get("/")

    assert '<html lang="en">' in text(response)
    assert response["Content-Language"] == "en"
    assert "Leaderboard" in text(response)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_is_in_russian_for_a_russian_browser(scene, ru_client, path):
    response = ru_client.get(path)

    assert response.status_code == 200
    body = text(response)
    assert '<html lang="ru">' in body
    assert response["Content-Language"] == "ru"
    assert "Таблица лидеров" in body and "Язык интерфейса" in body
    assert "Skip to content" not in body


def test_the_language_cookie_wins_over_accept_language(scene):
    client = russian_client()

    body = text(client.get("/", headers={"Accept-Language": "en"}))

    assert "Лидеры и рекорды" in body
    assert "Первый блин" in body  # achievement texts follow the page language


def test_lang_in_the_query_wins_over_the_cookie(scene):
    body = text(russian_client().get("/achievements/?lang=en"))

    assert '<html lang="en">' in body
    assert "All achievements" in body and "Night Owl" in body


def test_the_switcher_posts_to_set_language_and_comes_back(scene):
    client = Client()
    body = text(client.get("/achievements/?order=points&lang=en"))
    form = body[body.index('<form class="languages"') :]
    form = form[: form.index("</form>")]
    assert 'action="/i18n/setlang/" method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    # Coming back, ?lang= would override the new choice: the switcher drops it.
    assert 'name="next" value="/achievements/?order=points"' in form
    assert re.search(r'name="language" value="ru" lang="ru" aria-pressed="false"', form)

    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/achievements/"})

    assert response.status_code == 302 and response["Location"] == "/achievements/"
    assert "Самые редкие" in text(client.get("/achievements/"))


def test_russian_plurals_take_the_right_form(scene, ru_client):
    assert "3 дня" in text(ru_client.get("/users/anna/"))
    home = text(ru_client.get("/"))
    assert '<span class="big">3</span> достижения' in home
    assert '<span class="big">60</span> очков' in home


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 день"), (2, "2 дня"), (5, "5 дней"), (11, "11 дней"), (21, "21 день"), (22, "22 дня")],
)
def test_the_russian_catalog_has_three_plural_forms(count, expected):
    with translation.override("ru"):
        shown = ngettext("%(counter)s day", "%(counter)s days", count) % {"counter": count}

    assert shown == expected


def po_entries(path: Path) -> list[tuple[str, str | None, list[str]]]:
    """(msgid, msgid_plural, translations) of each entry of a .po file but the header."""
    entries, current, field = [], {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current.get("msgid"):
                forms = sorted(k for k in current if k.startswith("msgstr"))
                entries.append(
                    (current["msgid"], current.get("msgid_plural"), [current[k] for k in forms])
                )
            current, field = {}, None
        elif line.startswith('"'):
            current[field] += ast.literal_eval(line)
        elif not line.startswith("#"):
            field, _, value = line.partition(" ")
            current[field] = ast.literal_eval(value)
    return entries


def test_every_interface_message_has_a_russian_translation():
    entries = po_entries(LOCALE / "django.po")

    assert len(entries) > 50
    assert [msgid for msgid, _, forms in entries if not all(forms)] == []
    assert all(len(forms) == 3 for _, plural, forms in entries if plural)
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_the_compiled_catalog_matches_the_po_file():
    """Catches a .po edited without `compilemessages`."""
    with (LOCALE / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    for msgid, plural, forms in po_entries(LOCALE / "django.po"):
        if plural:
            assert [compiled.ngettext(msgid, plural, n) for n in (1, 2, 5)] == forms, msgid
        else:
            assert compiled.gettext(msgid) == forms[0], msgid


def test_every_translate_tag_in_the_templates_is_in_the_catalog():
    """Catches a template edited without `makemessages` (for the simple {% translate %} tags)."""
    msgids = {msgid for msgid, _, _ in po_entries(LOCALE / "django.po")}
    base = Path(settings.BASE_DIR)
    tag = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1\s*%}""")

    used = {
        match.group(2)
        for templates in (base / "templates", base / "pages" / "templates")
        for path in templates.rglob("*.html")
        if "admin" not in path.relative_to(templates).parts
        for match in tag.finditer(path.read_text(encoding="utf-8"))
    }

    assert len(used) > 40
    assert sorted(used - msgids) == []
