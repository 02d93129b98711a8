"""A granting POST finds its holder and its achievement by prepared statements
(users.selectors.user_get_brief, achievements.selectors.achievement_get_brief) instead of
compiled queries, validates the usual body without building AwardCreateSerializer
(achievements.serializers.award_create_validated), and answers with a plain dict
(achievements.serializers.award_representation) instead of AwardSerializer. These tests hold
them to what they replace: the same instance, the same answers for every kind of name, code
and body, the same JSON bytes."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone, translation
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from achievements import serializers as achievement_serializers
from achievements.models import Achievement, Award
from achievements.selectors import achievement_get, achievement_get_brief
from achievements.serializers import AwardCreateSerializer, AwardSerializer, award_create_validated
from tests.achievements.test_grant_paths import NEW_GRANT_STATEMENTS, REPEAT_GRANT_STATEMENTS
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import CASE_USER_LOOKUPS, fallback_catalog
from users.api import USER_NOT_FOUND


def awards_of(username: str) -> str:
    return f"/api/v1/users/{username}/achievements/"


def test_the_brief_achievement_is_the_orm_instance(db):
    AchievementFactory(
        code="secret",
        points=12,
        goal=3,
        hidden=True,
        name_en="Secret",
        name_ru="Тайна",
        description_en="Hidden.",
        description_ru="",
        rule_event="lesson.done",
        rule_measure="count",
    )
    AchievementFactory(code="plain", hidden=False, name_ru=None, description_ru=None)
    for code in ("secret", "plain"):
        orm, brief = achievement_get(code), achievement_get_brief(code)
        for field in Achievement._meta.concrete_fields:
            assert getattr(brief, field.attname) == getattr(orm, field.attname), field.attname
        assert type(brief.hidden) is bool
        assert brief.rule == orm.rule
        assert brief.name == orm.name and brief.description == orm.description


def test_the_brief_achievement_reads_created_at_on_access(db, count_queries):
    entry = AchievementFactory(code="late")
    brief = achievement_get_brief("late")
    assert count_queries(lambda: brief.created_at) == 1
    assert brief.created_at == entry.created_at


@pytest.mark.parametrize("code", ["ghost", "DRAGON", "dragon ", "drag\u212aon"])
def test_an_unknown_code_is_the_same_400(api, code, db):
    UserFactory(username="ann")
    AchievementFactory(code="dragon")
    response = api.post(awards_of("ann"), {"achievement": code})
    assert response.status_code == 400
    assert response.json() == {"achievement": [f"Unknown achievement code {code!r}."]}
    assert not Award.objects.exists()


@pytest.mark.parametrize("value", [7, None, ["dragon"], {"code": "dragon"}, True])
def test_a_code_that_is_not_a_string_is_refused_before_any_query(api, value, db):
    UserFactory(username="ann")
    AchievementFactory(code="dragon")
    response = api.post(awards_of("ann"), {"achievement": value}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["achievement"]
    assert not Award.objects.exists()


def test_a_nul_in_the_code_gets_the_answer_it_got_from_the_queryset(api, db):
    UserFactory(username="ann")
    api.raise_request_exception = False
    response = api.post(awards_of("ann"), {"achievement": "dra\x00gon"})
    assert response.status_code == 400
    if connection.vendor == "sqlite":
        assert response.json() == {"achievement": ["Unknown achievement code 'dra\\x00gon'."]}
    else:  # PostgreSQL text cannot hold a NUL: core.errors answers for the database
        assert list(response.json()) == ["detail"]


@pytest.mark.parametrize("asked, found", CASE_USER_LOOKUPS)
def test_the_holder_is_found_as_user_get_finds_it(api, asked, found, db):
    holder = UserFactory(username="Case_User", language="ru")
    AchievementFactory(code="dragon", name_ru="Дракон")
    response = api.post(awards_of(asked), {"achievement": "dragon"})
    if found:
        assert response.status_code == 201
        assert response["Content-Language"] == "ru"
        assert response.json()["name"] == "Дракон"
        assert Award.objects.filter(user=holder).count() == 1
    else:
        assert response.status_code == 404
        assert response.json() == {"detail": USER_NOT_FOUND}
        assert not Award.objects.exists()


def serializer_body(award: Award, language: str) -> bytes:
    """The answer as the view built it before: AwardSerializer over the award as stored."""
    award = Award.objects.select_related("achievement").get(pk=award.pk)
    with translation.override(language):
        return JSONRenderer().render(AwardSerializer(award).data)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_the_answer_is_the_serializers_json_byte_for_byte(api, language, zone, db):
    entries = fallback_catalog()
    holder = UserFactory(username="holder", language=language)
    backdated = (timezone.now() - timedelta(days=3)).replace(microsecond=123456)
    with override_settings(TIME_ZONE=zone):
        for n, entry in enumerate(entries):
            body = {"achievement": entry.code}
            if n % 2:
                body["awarded_at"] = backdated.isoformat()
            first = api.post(awards_of("HOLDER"), body, HTTP_ACCEPT_LANGUAGE="de")
            repeat = api.post(awards_of("holder"), {"achievement": entry.code})
            award = Award.objects.get(user=holder, achievement=entry)
            assert (first.status_code, repeat.status_code) == (201, 200)
            assert first.content == serializer_body(award, language)
            assert repeat.content == first.content
            assert first["Content-Language"] == language


def test_a_granting_post_runs_the_two_look_ups_and_the_grants_statements(
    api, settings, count_queries, db
):
    """With the token's account cached (AUTH_TOKEN_CACHE_SECONDS, on in production), a POST
    costs the holder's and the achievement's look-ups and the grant's own statements: 6 on
    PostgreSQL for a new award, 5 for a repeat (the test's transaction makes BEGIN and COMMIT
    a SAVEPOINT and its RELEASE)."""
    settings.AUTH_TOKEN_CACHE_SECONDS = 30
    UserFactory(username="ann")
    first, second = AchievementFactory(code="first"), AchievementFactory(code="second")
    api.post(awards_of("ann"), {"achievement": first.code})  # caches the token's account

    new = count_queries(lambda: api.post(awards_of("ann"), {"achievement": second.code}))
    repeat = count_queries(lambda: api.post(awards_of("ann"), {"achievement": second.code}))

    assert (new, repeat) == (
        2 + NEW_GRANT_STATEMENTS[connection.vendor],
        2 + REPEAT_GRANT_STATEMENTS[connection.vendor],
    )
    assert new == {"postgresql": 6, "sqlite": 13}[connection.vendor]


CREATE_BODIES = [
    {"achievement": "owl"},
    {"achievement": "owl", "note": "ignored"},
    {"achievement": "owl", "awarded_at": "2024-05-01T10:00:00Z"},
    {"achievement": "owl", "awarded_at": "2024-05-01T10:00:00"},
    {"achievement": "owl", "awarded_at": None},
    {"achievement": "nobody-has-this"},
    {"achievement": "OWL"},
    {"achievement": ""},
    {"achievement": None},
    {"achievement": 5},
    {"achievement": ["owl"]},
    {"achievement": {"code": "owl"}},
    {"achievement": "o\x00wl"},
    {"achievement": " owl"},
    {},
    [],
    ["owl"],
    "owl",
    None,
]


def _outcome(validate, data):
    try:
        with transaction.atomic():
            achievement, awarded_at = validate(data)
    except serializers.ValidationError as error:
        return "invalid", error.detail
    except DatabaseError as error:
        # A NUL is left to the database's own answer (PostgreSQL refuses it).
        return "database error", type(error)
    return achievement.pk, awarded_at


def _through_the_serializer(data):
    given = AwardCreateSerializer(data=data)
    given.is_valid(raise_exception=True)
    return given.validated_data["achievement"], given.validated_data.get("awarded_at")


@pytest.mark.parametrize("data", CREATE_BODIES, ids=repr)
def test_a_grants_body_validates_as_through_the_serializer(db, data):
    AchievementFactory(code="owl")
    assert _outcome(award_create_validated, data) == _outcome(_through_the_serializer, data)


def test_the_usual_body_builds_no_serializer(db, monkeypatch):
    owl = AchievementFactory(code="owl")

    def refused(*args, **kwargs):
        raise AssertionError("AwardCreateSerializer built")

    monkeypatch.setattr(achievement_serializers, "AwardCreateSerializer", refused)
    achievement, awarded_at = award_create_validated({"achievement": "owl"})
    assert (achievement, awarded_at) == (owl, None)
    with pytest.raises(AssertionError, match="built"):
        award_create_validated({"achievement": "nobody-has-this"})
