"""Fixtures for the page tests: a small bilingual scene and a Russian-speaking visitor."""

import pytest
from django.test import Client

from tests.pages.scene import Scene, achievement, grant
from users.services import user_create


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
