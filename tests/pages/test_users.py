"""User pages and the search that leads to them."""

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from achievements.models import Award
from tests.helpers import text
from tests.pages.scene import START, achievement, grant
from users.services import user_create

pytestmark = pytest.mark.django_db


def test_a_user_page_shows_totals_rank_and_longest_streak_with_dates(scene):
    response = Client().get("/users/anna/")

    assert response.status_code == 200
    body = text(response)
    assert "<h1" in body and ">anna</h1>" in body
    figures = body[body.index('<dl class="figures">') : body.index("</dl>")]
    assert re.search(r"<dt>Points</dt>\s*<dd>60</dd>", figures)
    assert re.search(r"<dt>Achievements</dt>\s*<dd>3</dd>", figures)
    assert "1 <small>of 4</small>" in figures
    assert "3 days" in figures
    assert '<time datetime="2024-03-01">' in figures and '<time datetime="2024-03-03">' in figures
    assert response.context["rank"] == 1


def test_tied_users_share_a_rank_and_the_next_rank_skips(scene):
    assert Client().get("/users/boris/").context["rank"] == 2
    assert Client().get("/users/vera.k/").context["rank"] == 2
    assert Client().get("/users/idle/").context["rank"] == 4


def test_a_user_page_lists_achievements_newest_first_with_dates(scene):
    response = Client().get("/users/anna/")

    assert [a["code"] for a in response.context["awards"]] == ["ctrl-z", "first-pie", "night-owl"]
    body = text(response)
    assert "March 3, 2024" in body or "Mar. 3, 2024" in body
    assert f'datetime="{START.date().isoformat()}T12:00:00+00:00"' in body


def test_achievements_are_in_the_users_language_whatever_the_interface_language(scene):
    # boris reads Russian: his achievements are in Russian even on the English interface.
    english_ui = text(Client().get("/users/boris/"))
    assert "Полуночник" in english_ui and "Первый блин" in english_ui
    assert "Night Owl" not in english_ui
    assert "Longest streak" in english_ui
    assert '<div class="award__main" lang="ru">' in english_ui

    # anna reads English: her achievements are in English on the Russian interface.
    russian_ui = text(Client(headers={"Accept-Language": "ru"}).get("/users/anna/"))
    assert "Night Owl" in russian_ui and "Полуночник" not in russian_ui
    assert "Самая длинная серия" in russian_ui


def test_a_missing_translation_falls_back_to_english(scene):
    body = text(Client().get("/users/vera.k/"))

    assert "Ctrl+Z Champion" in body
    assert "Ctrl+Z Champion: the English description." in body


def test_a_user_with_no_awards_has_an_empty_list_and_no_streak(scene):
    body = text(Client().get("/users/idle/"))

    assert "No achievements yet." in body
    assert re.search(r"<dt>Longest streak</dt>\s*<dd>—</dd>", body)


@pytest.mark.parametrize("path", ["/users/ANNA/", "/users/Anna/"])
def test_usernames_are_looked_up_in_any_case(scene, path):
    response = Client().get(path)

    assert response.status_code == 200
    assert response.context["profile"] == scene.anna
    assert '<link rel="canonical" href="/users/anna/">' in text(response)


def test_usernames_with_every_allowed_character_have_a_page(db):
    user_create(username="a.b+c@d-e_f", language="en")

    assert Client().get(reverse("pages:user", args=["a.b+c@d-e_f"])).status_code == 200
    assert Client().get("/users/A.B+C@D-E_F/").status_code == 200


def test_a_long_award_list_is_paginated(db):
    user = user_create(username="collector", language="en")
    for n in range(55):
        grant(user, achievement(f"a{n}", 1, f"Award {n}"), n)

    first = Client().get("/users/collector/")
    second = Client().get("/users/collector/?page=2")

    assert len(first.context["awards"]) == 50
    assert [a["code"] for a in second.context["awards"]] == [f"a{n}" for n in range(4, -1, -1)]
    assert 'href="?page=2"' in text(first) and "Page 1 of 2" in text(first)
    # Past the end or nonsense: the nearest real page, never an error.
    assert Client().get("/users/collector/?page=99").context["page"].number == 2
    assert Client().get("/users/collector/?page=x").context["page"].number == 1


def test_an_unknown_user_gets_a_clear_404_page(db):
    response = Client().get("/users/nobody/")

    assert response.status_code == 404
    assert response.templates[0].name == "404.html"
    body = text(response)
    assert "No such player" in body
    assert "Nobody is called “nobody”" in body
    assert 'value="nobody"' in body  # the search box offers to look for it


def test_the_404_page_escapes_what_was_asked_for(db):
    body = text(Client().get("/users/<script>alert(1)<!--/"))

    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;!--" in body


def test_an_unknown_user_gets_a_russian_404_page_in_russian(ru_client, db):
    response = ru_client.get("/users/nobody/")

    assert response.status_code == 404
    assert "Такого игрока нет" in text(response)


# Search --------------------------------------------------------------------------------------


def test_a_search_with_exactly_one_match_goes_to_that_user(scene):
    response = Client().get("/search/", {"q": "VERA"})

    assert response.status_code == 302
    assert response["Location"] == "/users/vera.k/"


def test_a_search_with_several_matches_lists_them_exact_match_first(db):
    for name in ("ann", "anna", "joanne", "Hannah"):
        user_create(username=name)

    response = Client().get("/search/", {"q": "ANN"})

    assert response.status_code == 200
    assert [u.username for u in response.context["page"].object_list] == [
        "ann",
        "Hannah",
        "anna",
        "joanne",
    ]
    assert "4 players match “ANN”." in text(response)


def test_a_search_with_no_match_says_so(scene):
    response = Client().get("/search/", {"q": "zzz"})

    assert response.status_code == 200
    assert "name contains “zzz”." in text(response)


def test_search_wildcards_are_taken_literally(scene):
    assert Client().get("/search/", {"q": "%"}).context["page"] is None
    assert Client().get("/search/", {"q": "_"}).context["page"] is None
    assert Client().get("/search/", {"q": "."})["Location"] == "/users/vera.k/"


def test_an_empty_search_shows_the_form(db):
    response = Client().get("/search/", {"q": "   "})

    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'name="q"' in text(response)


def test_search_results_are_paginated_and_keep_the_query(db):
    for n in range(60):
        user_create(username=f"player{n:02d}")

    first = Client().get("/search/", {"q": "player"})
    second = Client().get("/search/", {"q": "player", "page": 2})

    assert len(first.context["page"].object_list) == 50
    assert 'href="?q=player&amp;page=2"' in text(first)
    assert len(second.context["page"].object_list) == 10


def test_streak_dates_are_shown_in_the_page_language(scene):
    body = text(Client(headers={"Accept-Language": "ru"}).get("/users/anna/"))

    assert "3 дня" in body
    assert "1 марта 2024" in body and "3 марта 2024" in body
    assert date(2024, 3, 1).isoformat() in body


def test_the_user_page_charts_points_over_time_from_the_awards(scene):
    response = Client().get("/users/anna/")
    chart = response.context["points_chart"]
    body = text(response)

    # Oracle: anna's awards in time order, each adding its achievement's points.
    running, expected = 0, []
    for award in sorted(Award.objects.filter(user=scene.anna), key=lambda a: a.awarded_at):
        running += award.achievement.points
        expected.append((award.awarded_at, running))
    assert chart["steps"] == expected
    assert chart["max"] == scene.anna.points == running
    svg = body[body.index('<svg class="chart__svg"') : body.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="points-chart-title points-chart-desc"' in svg
    assert "to 60 now</title>" in svg
    assert svg.count("; ") == len(expected) - 1  # one figure per award in the description


def test_a_user_without_awards_has_no_chart(scene):
    response = Client().get("/users/idle/")

    assert response.context["points_chart"] is None
    assert "chart__svg" not in text(response)
