"""The catalog and each achievement's page of holders."""

import re

import pytest
from django.test import Client

from achievements.services.awards import award_grant
from tests.helpers import text
from tests.pages.scene import achievement
from users.services import user_create

pytestmark = pytest.mark.django_db


def test_the_catalog_lists_every_achievement_with_points_description_and_rarity(scene):
    response = Client().get("/achievements/")

    assert response.status_code == 200
    rows = {row["code"]: row for row in response.context["rows"]}
    assert set(rows) == {"night-owl", "first-pie", "ctrl-z", "rare-bird"}
    assert (rows["night-owl"]["holders"], rows["night-owl"]["percent"]) == (2, 50)
    assert (rows["rare-bird"]["holders"], rows["rare-bird"]["percent"]) == (0, 0)
    body = text(response)
    assert "Night Owl: the English description." in body
    assert re.search(r'<td class="num">500</td>', body)  # Points: secondary when rarest first
    assert "50% <small>of players</small>" in body
    assert 'href="/achievements/night-owl/"' in body


def test_the_share_of_players_is_labelled_held_by_and_says_what_it_is(scene):
    body = text(Client().get("/achievements/"))
    russian = text(Client().get("/achievements/?lang=ru"))

    assert '<th scope="col" class="num col-key">Held by</th>' in body
    assert "Rarity" not in body
    assert "the rarest have the smallest share" in body
    assert '<th scope="col" class="num col-key">Есть у</th>' in russian  # noqa: RUF001
    assert "50% <small>игроков</small>" in russian


def test_the_catalog_puts_the_rarest_first_or_the_most_valuable(scene):
    rarest = Client().get("/achievements/").context["rows"]
    valuable = Client().get("/achievements/?order=points").context["rows"]

    assert rarest[0]["code"] == "rare-bird"
    assert [row["points"] for row in valuable] == [500, 30, 20, 10]


def test_rarity_is_shown_with_the_locales_decimal_separator(db):
    users = [user_create(username=f"u{n}") for n in range(8)]
    owl = achievement("owl", 5, "Owl", "Сова")
    award_grant(user=users[0], achievement=owl)

    assert "12.5%" in text(Client().get("/achievements/"))
    assert "12,5%" in text(Client(headers={"Accept-Language": "ru"}).get("/achievements/"))


@pytest.mark.parametrize(
    ("headers", "query", "expected", "unexpected"),
    [
        ({}, "", "Night Owl", "Полуночник"),
        ({"Accept-Language": "ru"}, "", "Полуночник", "Night Owl"),
        ({"Accept-Language": "ru"}, "?lang=en", "Night Owl", "Полуночник"),
        ({}, "?lang=ru", "Полуночник", "Night Owl"),
        ({"Accept-Language": "de, ru;q=0.5"}, "", "Полуночник", "Night Owl"),
        ({}, "?lang=xx", "Night Owl", "Полуночник"),
    ],
)
def test_catalog_texts_follow_lang_then_accept_language_then_english(
    scene, headers, query, expected, unexpected
):
    body = text(Client(headers=headers).get(f"/achievements/{query}"))

    assert expected in body
    assert unexpected not in body


def test_catalog_texts_fall_back_to_english_when_untranslated(scene):
    body = text(Client(headers={"Accept-Language": "ru"}).get("/achievements/"))

    assert "Ctrl+Z Champion" in body


def test_an_achievement_page_lists_its_holders_latest_first(scene):
    response = Client().get("/achievements/night-owl/")

    assert response.status_code == 200
    assert [a.user.username for a in response.context["page"].object_list] == ["boris", "anna"]
    body = text(response)
    assert "<h1>Night Owl</h1>" in body
    assert "2 <small>of 4</small>" in body
    assert 'href="/users/boris/"' in body


def test_an_achievement_nobody_holds_says_so(scene):
    body = text(Client().get("/achievements/rare-bird/"))

    assert "Nobody has earned it yet." in body
    assert "0% <small>of players</small>" in body


def test_the_holders_list_is_paginated(db):
    owl = achievement("owl", 5, "Owl")
    for n in range(51):
        award_grant(user=user_create(username=f"holder{n:02d}"), achievement=owl)

    first = Client().get("/achievements/owl/")
    second = Client().get("/achievements/owl/?page=2")

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 1
    assert "51 <small>of 51</small>" in text(first)


def test_an_unknown_achievement_gets_a_404_page(db):
    response = Client().get("/achievements/no-such-thing/")

    assert response.status_code == 404
    assert "No such achievement" in text(response)
    assert "“no-such-thing”" in text(response)
