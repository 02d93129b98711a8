"""A small bilingual scene for the page tests, written through the services so figures are exact."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from achievements.models import Achievement
from achievements.services.awards import award_grant
from achievements.services.catalog import achievement_create
from users.models import User
from users.services import user_create

# A fixed past moment: dates on the pages are predictable.
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Scene:
    """anna (en): 3 awards on 3 days in a row, 60 points. boris (ru): 2 awards, 30 points.
    vera.k (ru): the same 30 points by one award. idle (en): nothing. `untranslated` has no
    Russian texts."""

    anna: User
    boris: User
    vera: User
    idle: User
    owl: Achievement
    pie: Achievement
    untranslated: Achievement
    rare: Achievement


def achievement(code: str, points: int, en: str, ru: str = "") -> Achievement:
    return achievement_create(
        code=code,
        points=points,
        names={"en": en, "ru": ru},
        descriptions={
            "en": f"{en}: the English description.",
            "ru": f"{ru}: описание по-русски." if ru else "",
        },
    )


def grant(user: User, achievement: Achievement, day: int) -> None:
    award_grant(user=user, achievement=achievement, awarded_at=START + timedelta(days=day))


@pytest.fixture
def scene(db) -> Scene:
    owl = achievement("night-owl", 10, "Night Owl", "Полуночник")
    pie = achievement("first-pie", 20, "First Pancake", "Первый блин")
    untranslated = achievement("ctrl-z", 30, "Ctrl+Z Champion")
    rare = achievement("rare-bird", 500, "Rare Bird", "Редкая птица")
    anna = user_create(username="anna", language="en")
    boris = user_create(username="boris", language="ru")
    vera = user_create(username="vera.k", language="ru")
    idle = user_create(username="idle", language="en")
    grant(anna, owl, 0)
    grant(anna, pie, 1)
    grant(anna, untranslated, 2)
    grant(boris, owl, 3)
    grant(boris, pie, 5)
    grant(vera, untranslated, 4)
    for user in (anna, boris, vera, idle):
        user.refresh_from_db()
    return Scene(anna, boris, vera, idle, owl, pie, untranslated, rare)


@pytest.fixture
def ru_client() -> Client:
    """A visitor whose browser asks for Russian."""
    return Client(headers={"Accept-Language": "ru"})


def text(response) -> str:
    """The response body as text, for `in` checks."""
    return response.content.decode()
