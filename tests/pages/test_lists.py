"""The full leaderboard and the streaks page."""

import pytest
from django.test import Client

from tests.helpers import text
from tests.pages.scene import achievement
from users.services import user_create

pytestmark = pytest.mark.django_db


def test_the_leaderboard_ranks_everyone_by_points_with_shared_ranks(scene):
    response = Client().get("/leaderboard/")

    assert response.status_code == 200
    assert [(r["rank"], r["username"], r["points"]) for r in response.context["rows"]] == [
        (1, "anna", 60),
        (2, "boris", 30),
        (2, "vera.k", 30),
        (4, "idle", 0),
    ]
    assert '<th scope="col" class="num">Rank</th>' in text(response)


def test_the_leaderboard_can_rank_by_achievement_count(scene):
    response = Client().get("/leaderboard/?by=achievements")

    assert [(r["rank"], r["username"]) for r in response.context["rows"]] == [
        (1, "anna"),
        (2, "boris"),
        (3, "vera.k"),
        (4, "idle"),
    ]
    assert 'href="?by=achievements" aria-current="page"' in text(response)


def test_an_unknown_ranking_falls_back_to_points_and_says_so(scene):
    response = Client().get("/leaderboard/?by=nonsense")

    assert response.context["by"] == "points"
    assert (
        '<p class="notice" role="status">There is no ranking by “nonsense”; ranked by points '
        "instead.</p>" in text(response)
    )


def test_the_notice_is_in_the_page_language_and_escapes_the_value(scene):
    body = text(Client().get("/leaderboard/", {"lang": "ru", "by": "<b>x</b>"}))

    assert "Рейтинга по «&lt;b&gt;x&lt;/b&gt;» нет; показан рейтинг по очкам." in body


@pytest.mark.parametrize("query", ["", "?by=points", "?by=achievements"])
def test_a_known_ranking_has_no_notice(scene, query):
    assert 'class="notice"' not in text(Client().get(f"/leaderboard/{query}"))


def test_ranks_continue_across_pages_and_ties_span_them(db):
    # 52 users, all at 0 points: the two on the second page share rank 1 with the first 50.
    for n in range(52):
        user_create(username=f"u{n:02d}")

    second = Client().get("/leaderboard/?page=2")

    assert [(r["rank"], r["username"]) for r in second.context["rows"]] == [
        (1, "u50"),
        (1, "u51"),
    ]
    assert 'href="?page=1"' in text(second)


def test_the_streaks_page_lists_users_with_enough_days_in_a_row(scene):
    response = Client().get("/streaks/?days=3")

    assert [s["username"] for s in response.context["page"].object_list] == ["anna"]
    body = text(response)
    assert "3 days" in body
    assert '<time datetime="2024-03-01">' in body and '<time datetime="2024-03-03">' in body


@pytest.mark.parametrize("days", ["1", "3651", "x", "-5", "99999999"])
def test_the_streaks_page_uses_seven_days_for_a_value_out_of_range(scene, days):
    response = Client().get("/streaks/", {"days": days})

    assert response.status_code == 200
    assert response.context["days"] == 7
    body = text(response)
    assert "Nobody has kept it up that long yet." in body
    assert (
        f"“{days}” is not a number of days from 2 to 3650; showing 7 days in a row instead." in body
    )


def test_the_streaks_page_without_days_shows_seven_without_a_notice(scene):
    response = Client().get("/streaks/")

    assert response.context["days"] == 7
    assert 'class="notice"' not in text(response)


def test_an_unknown_catalog_order_says_what_is_shown(scene):
    body = text(Client().get("/achievements/?order=newest"))

    assert "There is no order “newest”; showing the rarest first instead." in body


@pytest.mark.parametrize(("last_day_ago", "ongoing"), [(0, True), (1, True), (2, False)])
def test_a_streak_is_marked_ongoing_when_it_includes_today_or_yesterday(
    scene, grant, last_day_ago, ongoing
):
    for day in range(3):
        grant(scene.idle, achievement(f"day-{day}", 1, f"Day {day}"), days_ago=last_day_ago + day)

    streaks = text(Client().get("/streaks/?days=3"))
    profile = text(Client().get("/users/idle/"))

    row = streaks[streaks.index("/users/idle/") :]
    row = row[: row.index("</tr>")]
    assert ("ongoing</span>" in row) is ongoing
    assert ("ongoing</span>" in profile) is ongoing
    # anna's streak ended in 2024.
    anna = streaks[streaks.index("/users/anna/") :]
    assert "ongoing</span>" not in anna[: anna.index("</tr>")]
