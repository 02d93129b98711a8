# Russian admin texts are the point of these checks, not look-alike Latin letters.
# ruff: noqa: RUF001
"""The admin in Russian: every word the project adds (app and model names, field labels, help
texts, section and inline titles, the bulk-award page and its messages) is translated.

Django's own admin strings come translated with Django; what is left in Latin letters on a
Russian page is the project's. The data here is written without Latin words, so any Latin word
on the page is an untranslated string."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model

from achievements.services.awards import award_grant
from achievements.services.catalog import achievement_create
from users.services import user_create

pytestmark = pytest.mark.django_db

OPERATOR = "oper"
# Latin words that may stand on a Russian page: the operator's login, the language that names
# itself in the language choices, the language codes in the translated columns' labels, and
# Django's own search icon, whose alt text its template does not translate.
# "Axes" is django-axes's own name for its app (a brand); "True"/"False" are the alt texts
# Django's admin gives its boolean icons, untranslated by Django itself; "UTC" is a time zone
# name, data rather than a project string, as are the names the time zone list offers; "IANA"
# (the body that names the zones) is written so in Russian too.
ALLOWED = {OPERATOR, "English", "en", "ru", "Search", "Axes", "True", "False", "UTC", "IANA"}
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}


class VisibleText(HTMLParser):
    """The text a reader (or a screen reader) meets: element text outside scripts and styles,
    and the attributes read out loud."""

    def __init__(self):
        super().__init__()
        self.parts, self._hidden, self._in_zones = [], 0, False

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style", "template"}:
            self._hidden += 1
        if tag == "select" and dict(attrs).get("name") == "time_zone":
            self._in_zones = True
            self._hidden += 1
        if tag == "input" and dict(attrs).get("type") in {"submit", "button"}:
            self.parts.append(dict(attrs).get("value") or "")
        self.parts.extend(value or "" for name, value in attrs if name in VISIBLE_ATTRIBUTES)

    def handle_endtag(self, tag):
        if tag in {"script", "style", "template"}:
            self._hidden -= 1
        if tag == "select" and self._in_zones:
            self._in_zones = False
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def latin_words(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    words = set(re.findall(r"[A-Za-z][A-Za-z'’]+", " ".join(parser.parts)))
    return words - ALLOWED


@pytest.fixture
def russian_admin(client):
    operator = get_user_model().objects.create_superuser(OPERATOR, "", "пароль-для-теста")
    client.force_login(operator)
    client.cookies["django_language"] = "ru"
    player = user_create(username="u1", language="ru")
    other = user_create(username="u2", language="ru")
    achievement = achievement_create(
        code="c1",
        points=1500,
        names={"en": "Сова", "ru": "Сова"},
        descriptions={"en": "Ночью.", "ru": "Ночью."},
    )
    award_grant(user=player, achievement=achievement, by=operator)
    return {"client": client, "player": player, "other": other, "achievement": achievement}


def page(russian_admin, path: str, **post) -> str:
    client = russian_admin["client"]
    response = client.post(path, post, follow=True) if post else client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    assert '<html lang="ru"' in html, path
    return html


def test_the_russian_admin_index_names_players_and_the_product(russian_admin):
    html = page(russian_admin, "/admin/")

    assert latin_words(html) == set()
    assert "Игроки" in html
    assert "<title>Администрирование | Достижения</title>" in html
    assert html.count(">Пользователи<") == 1  # Django's own operator logins, once


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/user/",
        "/admin/users/user/{player}/change/",
        "/admin/users/user/add/",
        "/admin/achievements/achievement/",
        "/admin/achievements/achievement/{achievement}/change/",
        "/admin/achievements/achievement/add/",
        "/admin/achievements/award/",
        "/admin/achievements/award/add/",
    ],
)
def test_a_russian_admin_page_has_no_untranslated_project_string(russian_admin, path):
    path = path.format(
        player=russian_admin["player"].pk, achievement=russian_admin["achievement"].pk
    )

    assert latin_words(page(russian_admin, path)) == set()


def test_the_bulk_award_page_and_its_message_are_in_russian(russian_admin):
    players = [russian_admin["player"].pk, russian_admin["other"].pk]
    selected = {"action": "award_achievement_to_users", ACTION_CHECKBOX_NAME: players}

    asked = page(russian_admin, "/admin/users/user/", **selected)
    assert latin_words(asked) == set()
    assert "Выдать достижение этим 2 игрокам:" in asked

    done = page(
        russian_admin,
        "/admin/users/user/",
        **selected,
        apply="1",
        achievement=str(russian_admin["achievement"].pk),
    )
    assert latin_words(done) == set()
    assert "«Сова» выдано 1 игроку; у 1 оно уже было." in done


def test_points_in_the_admin_have_thousands_separators(russian_admin):
    html = page(russian_admin, "/admin/users/user/")

    assert re.search(r"1[\u00a0 ]500", html)


def test_each_delete_box_of_the_held_awards_is_labelled(russian_admin):
    html = page(russian_admin, f"/admin/users/user/{russian_admin['player'].pk}/change/")

    boxes = re.findall(r'<input type="checkbox" name="awards-\d+-DELETE"[^>]*>', html)
    assert boxes
    assert all('aria-label="Отозвать «Сова»"' in box for box in boxes)


def test_the_user_form_puts_the_username_before_the_language(russian_admin):
    html = page(russian_admin, "/admin/users/user/add/")

    assert html.index('name="username"') < html.index('name="language"')
