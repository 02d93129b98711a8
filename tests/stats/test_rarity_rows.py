"""`stats/achievements/` builds its rows without the serializer; its JSON stays, byte for byte,
what AchievementRaritySerializer gives (the shape the schema and SPEC describe): hidden and
visible entries, with and without credentials, in every language, with rules and missing
translations, in any TIME_ZONE; holders_percent as the brute-force oracle counts it."""

import json
import random

import pytest
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from achievements.services.awards import award_grant
from stats.selectors import achievement_catalog
from stats.serializers import AchievementRaritySerializer
from tests.factories import AchievementFactory, UserFactory
from tests.stats.oracle import database_oracle
from users.models import User
from users.services import user_delete

pytestmark = pytest.mark.django_db

RARITY = "/api/v1/stats/achievements/"


@pytest.fixture
def catalog():
    rng = random.Random(7)
    users = UserFactory.create_batch(7)
    entries = [
        AchievementFactory(
            points=rng.randint(1, 500),
            hidden=n % 3 == 0,
            goal=rng.choice([1, 1, 5]),
            rule_event="lesson" if n % 4 == 1 else None,
            rule_measure="count" if n % 4 == 1 else None,
            # Missing Russian texts, as NULL or as "": both read as the English ones.
            name_ru={2: None, 4: ""}.get(n % 5, f"Имя {n}"),
            description_ru={2: None, 3: ""}.get(n % 5, f"Описание {n}"),
        )
        for n in range(9)
    ]
    for user in users:
        for entry in rng.sample(entries, rng.randint(0, 5)):
            award_grant(user=user, achievement=entry)
    return entries


def serializer_body(lang: str, credentials: bool) -> bytes:
    """What the serializer renders for the whole catalog, as the view's first page."""
    with translation.override(lang):
        catalog = achievement_catalog()
        context = {"users": User.objects.count(), "credentials": credentials}
        results = AchievementRaritySerializer(catalog, many=True, context=context).data
    body = {"count": len(catalog), "next": None, "previous": None, "results": results}
    return JSONRenderer().render(body)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("credentials", [False, True])
def test_the_rows_render_exactly_as_the_serializer_does(
    catalog, settings, api, zone, lang, credentials
):
    settings.TIME_ZONE = zone
    timezone.get_default_timezone.cache_clear()
    client = api if credentials else APIClient()

    response = client.get(RARITY, {"lang": lang})

    assert response.status_code == 200
    assert response.content == serializer_body(lang, credentials)
    timezone.get_default_timezone.cache_clear()


def test_holders_percent_is_the_oracles_after_users_come_and_go(catalog, api):
    UserFactory.create_batch(3)  # users without awards count in the denominator
    user_delete(user=User.objects.filter(achievements_count__gt=0).order_by("pk").first())

    body = json.loads(api.get(RARITY, {"limit": 100}).content)

    expected = {row["code"]: row for row in database_oracle().achievements()}
    assert len(body["results"]) == len(expected)
    for row in body["results"]:
        assert row["holders"] == expected[row["code"]]["holders"]
        assert row["holders_percent"] == expected[row["code"]]["holders_percent"]


@pytest.mark.parametrize("datetime_format", ["%Y-%m-%d %H:%M", None])
def test_a_configured_datetime_format_is_followed(catalog, settings, datetime_format):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DATETIME_FORMAT": datetime_format}

    response = APIClient().get(RARITY, {"lang": "en"})

    assert response.status_code == 200
    assert response.content == serializer_body("en", credentials=False)
