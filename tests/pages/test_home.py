"""The home page: the five stats, the top of the leaderboard, the latest awards, the search box."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from achievements.models import Award
from tests.helpers import text
from tests.pages.scene import achievement

pytestmark = pytest.mark.django_db


def test_home_shows_the_leaders_by_count_and_by_points(scene):
    body = text(Client().get("/"))

    assert "Most achievements" in body
    assert re.search(r'<span class="big">3</span> achievements', body)
    assert "Most points" in body
    assert re.search(r'<span class="big">60</span> points', body)
    assert f'href="{reverse("pages:user", args=["anna"])}"' in body


def test_home_shows_the_largest_and_smallest_gap_with_both_users(scene):
    response = Client().get("/")
    body = text(response)

    largest = body[body.index("Largest gap") : body.index("Smallest gap")]
    assert "anna" in largest and "idle" in largest
    assert '<span class="big">60</span> points' in largest
    smallest = body[body.index("Smallest gap") :]
    smallest = smallest[: smallest.index("</article>")]
    # boris and vera.k both have 30 points: neighbours with no gap at all.
    assert '<span class="big">0</span> points' in smallest
    assert smallest.index("boris") < smallest.index("vera.k")
    assert smallest.count('<span class="pair__role">tied</span>') == 2
    assert response.context["min_gap"]["difference"] == 0


def test_both_gap_cards_list_the_higher_user_first_and_say_so(scene, grant):
    # boris moves to 31 points: the smallest gap is now vera.k (30) and boris (31).
    grant(scene.boris, achievement("one-more", 1, "One more"))
    body = text(Client().get("/"))

    for title in ("Largest gap", "Smallest gap"):
        card = body[body.index(title) :]
        card = card[: card.index("</article>")]
        roles = re.findall(r'<span class="pair__role">(\w+)</span> <a [^>]+>([^<]+)</a>', card)
        assert [role for role, _ in roles] == ["higher", "lower"], title
    largest = body[body.index("Largest gap") :]
    assert largest.index("anna") < largest.index("idle")
    smallest = body[body.index("Smallest gap") :]
    assert smallest.index("boris") < smallest.index("vera.k")


def test_home_lists_the_users_on_a_seven_day_streak(scene, grant):
    assert "Nobody has kept it up that long yet." in text(Client().get("/"))

    for day in range(7):
        grant(scene.idle, achievement(f"day-{day}", 1, f"Day {day}"), days_ago=day)

    body = text(Client().get("/"))
    card = body[body.index("7 days in a row") :]
    card = card[: card.index("</article>")]
    assert "idle" in card and "7 days" in card
    assert '<span class="big">1</span> player' in card


def test_home_shows_the_top_of_the_leaderboard_with_shared_ranks(scene):
    response = Client().get("/")

    leaders = [(row["rank"], row["username"]) for row in response.context["leaders"]]
    assert leaders == [(1, "anna"), (2, "boris"), (2, "vera.k"), (4, "idle")]
    assert reverse("pages:leaderboard") in text(response)


def test_home_shows_the_latest_awards_newest_first_in_the_page_language(scene):
    response = Client().get("/")

    recent = [(a.user.username, a.achievement.code) for a in response.context["recent_awards"]]
    assert recent[0] == ("boris", "first-pie")
    assert recent[-1] == ("anna", "night-owl")
    body = text(response)
    latest = body[body.index("Latest awards") :]
    assert "First Pancake" in latest and "Первый блин" not in latest

    latest_ru = text(Client(headers={"Accept-Language": "ru"}).get("/"))
    assert "Первый блин" in latest_ru[latest_ru.index("Свежие награды") :]


def test_home_has_a_search_form_that_sends_a_get_to_the_search_page():
    body = text(Client().get("/"))

    form = re.search(r'<form class="search search--large" role="search" action="([^"]+)"', body)
    assert form and form.group(1) == reverse("pages:search")
    assert 'name="q"' in body


def test_home_with_no_data_says_so_instead_of_failing(db):
    response = Client().get("/")

    assert response.status_code == 200
    body = text(response)
    assert "Nobody has earned an achievement yet." in body
    assert "It takes at least two players." in body
    assert "No players yet." in body
    assert "No awards yet." in body


def test_pages_answer_only_get_and_head(db):
    assert Client().head("/").status_code == 200
    assert Client().post("/").status_code == 405


def test_home_charts_awards_per_day_over_the_last_30_days(scene, grant):
    owl, pie = scene.owl, scene.pie
    grant(scene.idle, owl, days_ago=0)
    grant(scene.idle, pie, days_ago=2)
    grant(scene.vera, pie, days_ago=2)
    grant(scene.vera, owl, days_ago=40)  # outside the window

    response = Client().get("/")
    chart = response.context["awards_chart"]
    body = text(response)

    # Oracle: the awards of each of the last 30 local days, counted from the rows.
    today = timezone.localdate()
    expected = [
        sum(
            1
            for award in Award.objects.all()
            if timezone.localdate(award.awarded_at) == today - timedelta(days=29 - n)
        )
        for n in range(30)
    ]
    assert [bar["value"] for bar in chart["bars"]] == expected
    assert expected[-1] == 1 and expected[-3] == 2
    assert chart["total"] == 3
    svg = body[body.index('<svg class="chart__svg"') : body.index("</svg>")]
    assert 'role="img"' in svg
    assert svg.count('<rect class="chart__bar"') == 30
    assert "3 awards in all</title>" in svg
    assert "<script" not in body and "http" not in svg


def test_the_home_chart_speaks_russian(scene):
    body = text(Client().get("/?lang=ru"))

    assert "Награды по дням" in body
    assert "всего 0 наград</title>" in body
