"""`/api/v1/achievements/`: the catalog, its validation, its languages and protected deletes."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from achievements.models import Achievement, Award
from tests.factories import AchievementFactory, UserFactory

CATALOG = "/api/v1/achievements/"
ACHIEVEMENT_FIELDS = [
    "code",
    "points",
    "goal",
    "hidden",
    "rule",
    "name",
    "description",
    "name_en",
    "name_ru",
    "description_en",
    "description_ru",
    "created_at",
]


def new_entry(**overrides) -> dict:
    """A valid creation body, with `overrides` applied (`...` leaves a key out)."""
    body = {
        "code": "first-blood",
        "points": 50,
        "name_en": "First Blood",
        "name_ru": "Первая кровь",
        "description_en": "Win your first duel.",
        "description_ru": "Выиграйте первую дуэль.",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


# --- GET ------------------------------------------------------------------------------------


def test_an_achievement_reads_as_its_twelve_fields(anonymous):
    entry = AchievementFactory(
        code="dragon",
        points=100,
        name_en="Dragon Slayer",
        name_ru="Драконоборец",
        description_en="Slay a dragon.",
        description_ru="Убейте дракона.",
    )

    response = anonymous.get(f"{CATALOG}dragon/")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ACHIEVEMENT_FIELDS
    assert body == {
        "code": "dragon",
        "points": 100,
        "goal": 1,
        "hidden": False,
        "rule": None,
        "name": "Dragon Slayer",
        "description": "Slay a dragon.",
        "name_en": "Dragon Slayer",
        "name_ru": "Драконоборец",
        "description_en": "Slay a dragon.",
        "description_ru": "Убейте дракона.",
        "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_the_catalog_is_a_paginated_envelope_ordered_by_code(anonymous):
    for code in ["zeta", "alpha", "mid-1", "mid_0"]:
        AchievementFactory(code=code)

    response = anonymous.get(CATALOG)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [a["code"] for a in body["results"]] == ["alpha", "mid-1", "mid_0", "zeta"]
    assert all(list(a) == ACHIEVEMENT_FIELDS for a in body["results"])


def test_the_catalog_pages_by_50_and_caps_the_limit_at_1000(anonymous):
    Achievement.objects.bulk_create(
        [
            Achievement(code=f"a{i:04d}", points=1, name_en=f"A{i}", description_en="d")
            for i in range(1005)
        ]
    )

    default = anonymous.get(CATALOG).json()
    capped = anonymous.get(CATALOG, {"limit": 100000}).json()

    assert len(default["results"]) == 50
    assert "limit=50" in default["next"]
    assert capped["count"] == 1005
    assert len(capped["results"]) == 1000


def test_an_offset_past_the_end_of_the_catalog_is_an_empty_page(anonymous):
    AchievementFactory()

    response = anonymous.get(CATALOG, {"offset": 10**12})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_unknown_code_is_404_with_a_detail(anonymous):
    response = anonymous.get(f"{CATALOG}nope/")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


# --- languages ------------------------------------------------------------------------------


@pytest.fixture
def dragon(db):
    return AchievementFactory(
        code="dragon",
        name_en="Dragon Slayer",
        name_ru="Драконоборец",
        description_en="Slay a dragon.",
        description_ru="Убейте дракона.",
    )


@pytest.mark.parametrize(
    ("query", "accept_language", "language"),
    [
        ({}, None, "en"),
        ({}, "ru-RU,ru;q=0.9", "ru"),
        ({}, "ru", "ru"),
        ({}, "de-DE,de;q=0.9,ru;q=0.8,en;q=0.7", "ru"),
        ({}, "fr", "en"),
        ({}, "*", "en"),
        ({"lang": "ru"}, None, "ru"),
        ({"lang": "ru"}, "en", "ru"),
        ({"lang": "en"}, "ru-RU,ru;q=0.9", "en"),
    ],
    ids=[
        "default-english",
        "accept-language-region",
        "accept-language-plain",
        "accept-language-second-choice",
        "accept-language-unsupported",
        "accept-language-any",
        "lang",
        "lang-beats-header-ru",
        "lang-beats-header-en",
    ],
)
def test_name_and_description_follow_lang_then_accept_language_then_english(
    anonymous, dragon, query, accept_language, language
):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}

    detail = anonymous.get(f"{CATALOG}dragon/", query, **headers)
    listed = anonymous.get(CATALOG, query, **headers)

    expected = {
        "en": ("Dragon Slayer", "Slay a dragon."),
        "ru": ("Драконоборец", "Убейте дракона."),
    }[language]
    assert (detail.json()["name"], detail.json()["description"]) == expected
    assert detail["Content-Language"] == language
    entry = listed.json()["results"][0]
    assert (entry["name"], entry["description"]) == expected
    assert listed["Content-Language"] == language
    # Every language's own column is there whatever the request's language.
    assert detail.json()["name_en"] == "Dragon Slayer"
    assert detail.json()["name_ru"] == "Драконоборец"


@pytest.mark.parametrize("lang", ["fr", "EN", "", "ru-RU", "xx"])
def test_an_unknown_lang_parameter_is_refused_naming_lang(anonymous, dragon, lang):
    response = anonymous.get(f"{CATALOG}dragon/", {"lang": lang})

    assert response.status_code == 400
    assert list(response.json()) == ["lang"]


def test_a_missing_russian_translation_falls_back_to_english(anonymous):
    AchievementFactory(code="plain", name_en="Plain", description_en="Only English.", name_ru=None)
    Achievement.objects.filter(code="plain").update(description_ru=None)

    response = anonymous.get(f"{CATALOG}plain/", {"lang": "ru"})

    body = response.json()
    assert (body["name"], body["description"]) == ("Plain", "Only English.")
    assert (body["name_ru"], body["description_ru"]) == (None, None)


def test_catalog_responses_vary_on_accept_language(anonymous, dragon):
    detail = anonymous.get(f"{CATALOG}dragon/")
    listed = anonymous.get(CATALOG)

    for response in (detail, listed):
        assert "accept-language" in response["Vary"].lower()


def test_a_created_entry_answers_in_the_requests_language(api):
    response = api.post(CATALOG, new_entry(), HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 201
    assert response.json()["name"] == "Первая кровь"
    assert response["Content-Language"] == "ru"


# --- POST -----------------------------------------------------------------------------------


def test_adding_an_entry_answers_201_with_the_entry(api):
    before = timezone.now()

    response = api.post(CATALOG, new_entry())

    assert response.status_code == 201
    body = response.json()
    assert list(body) == ACHIEVEMENT_FIELDS
    assert body["code"] == "first-blood"
    assert body["points"] == 50
    assert (body["name"], body["description"]) == ("First Blood", "Win your first duel.")
    assert (body["name_en"], body["name_ru"]) == ("First Blood", "Первая кровь")
    assert (body["description_en"], body["description_ru"]) == (
        "Win your first duel.",
        "Выиграйте первую дуэль.",
    )
    created_at = datetime.fromisoformat(body["created_at"])
    assert before - timedelta(seconds=1) <= created_at <= timezone.now()
    stored = Achievement.objects.get(code="first-blood")
    assert (stored.points, stored.name_en, stored.name_ru) == (50, "First Blood", "Первая кровь")


def test_russian_texts_are_optional(api):
    response = api.post(CATALOG, new_entry(name_ru=..., description_ru=None))

    assert response.status_code == 201
    body = response.json()
    assert (body["name_ru"], body["description_ru"]) == (None, None)
    ru = api.get(f"{CATALOG}first-blood/", {"lang": "ru"}).json()
    assert (ru["name"], ru["description"]) == ("First Blood", "Win your first duel.")


def test_an_empty_russian_text_is_stored_as_missing_so_english_shows(api):
    response = api.post(CATALOG, new_entry(name_ru="", description_ru=""))

    assert response.status_code == 201
    ru = api.get(f"{CATALOG}first-blood/", {"lang": "ru"}).json()
    assert ru["name"] == "First Blood"


@pytest.mark.parametrize(
    ("name_en", "code"),
    [
        ("Dragon Slayer!", "dragon-slayer"),
        ("  Über   Hero 2  ", "uber-hero-2"),
        ("snake_case name", "snake_case-name"),
    ],
)
def test_a_code_is_made_from_the_english_name_when_omitted(api, name_en, code):
    response = api.post(CATALOG, new_entry(code=..., name_en=name_en))

    assert response.status_code == 201
    assert response.json()["code"] == code
    assert Achievement.objects.filter(code=code).exists()


def test_a_generated_code_that_is_taken_gets_a_number(api):
    AchievementFactory(code="dragon-slayer")

    response = api.post(CATALOG, new_entry(code=..., name_en="Dragon Slayer"))

    assert response.status_code == 201
    assert response.json()["code"] == "dragon-slayer-2"


def test_a_name_with_no_latin_letters_still_gets_a_valid_code(api):
    response = api.post(CATALOG, new_entry(code=..., name_en="!!!"))

    assert response.status_code == 201
    assert response.json()["code"]
    Achievement.objects.get(code=response.json()["code"]).full_clean()


def test_a_generated_code_from_a_long_name_fits_64_characters(api):
    response = api.post(CATALOG, new_entry(code=..., name_en="word " * 40))

    assert response.status_code == 201
    assert 1 <= len(response.json()["code"]) <= 64


def test_a_duplicate_code_is_refused_on_the_code_field_and_adds_nothing(api):
    AchievementFactory(code="first-blood", points=5)

    response = api.post(CATALOG, new_entry())

    assert response.status_code == 400
    assert list(response.json()) == ["code"]
    assert Achievement.objects.count() == 1
    assert Achievement.objects.get().points == 5


@pytest.mark.parametrize(
    "code",
    ["Upper", "with space", "dots.no", "slash/no", "ümlaut", "", "x" * 65, "semi;colon", None],
    ids=["upper", "space", "dot", "slash", "non-ascii", "empty", "65-chars", "semicolon", "null"],
)
def test_an_invalid_code_is_refused_on_the_code_field(api, code):
    response = api.post(CATALOG, new_entry(code=code))

    assert response.status_code == 400
    assert "code" in response.json()
    assert not Achievement.objects.exists()


def test_a_code_of_64_allowed_characters_is_accepted(api):
    code = ("a-b_0" * 13)[:64]

    response = api.post(CATALOG, new_entry(code=code))

    assert response.status_code == 201
    assert response.json()["code"] == code


@pytest.mark.parametrize("points", [1, 1_000_000])
def test_points_at_either_end_of_the_range_are_accepted(api, points):
    response = api.post(CATALOG, new_entry(points=points))

    assert response.status_code == 201
    assert response.json()["points"] == points


@pytest.mark.parametrize(
    "points",
    [0, -1, 1_000_001, 2**40, 2**63, "5", 5.0, 5.5, True, False, None, [5], {"v": 5}],
    ids=[
        "zero",
        "negative",
        "over-a-million",
        "2**40",
        "2**63",
        "string",
        "float-integral",
        "fraction",
        "true",
        "false",
        "null",
        "list",
        "object",
    ],
)
def test_points_outside_1_to_a_million_or_not_an_integer_are_refused(api, points):
    response = api.post(CATALOG, new_entry(points=points))

    assert response.status_code == 400
    assert list(response.json()) == ["points"]
    assert not Achievement.objects.exists()


def test_missing_points_are_refused_on_the_points_field(api):
    response = api.post(CATALOG, new_entry(points=...))

    assert response.status_code == 400
    assert list(response.json()) == ["points"]


@pytest.mark.parametrize("field", ["name_en", "description_en"])
@pytest.mark.parametrize("value", [..., None, "", "   "], ids=["missing", "null", "empty", "blank"])
def test_english_texts_are_required_on_create(api, field, value):
    response = api.post(CATALOG, new_entry(**{field: value}))

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Achievement.objects.exists()


@pytest.mark.parametrize(
    ("field", "limit"),
    [("name_en", 200), ("name_ru", 200), ("description_en", 2000), ("description_ru", 2000)],
)
def test_texts_longer_than_their_limit_are_refused_on_their_field(api, field, limit):
    too_long = api.post(CATALOG, new_entry(**{field: "я" * (limit + 1)}))
    at_limit = api.post(CATALOG, new_entry(**{field: "я" * limit}))

    assert too_long.status_code == 400
    assert list(too_long.json()) == [field]
    assert at_limit.status_code == 201
    assert Achievement.objects.count() == 1


def test_read_only_fields_sent_on_create_are_ignored(api):
    response = api.post(
        CATALOG,
        new_entry(name="Hacked", description="Hacked", created_at="2000-01-01T00:00:00Z"),
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "First Blood"
    assert body["description"] == "Win your first duel."
    assert datetime.fromisoformat(body["created_at"]).year != 2000


# --- PATCH ----------------------------------------------------------------------------------


def test_changing_points_moves_every_holders_total(api, anonymous, grant):
    entry = AchievementFactory(code="dragon", points=10)
    other = AchievementFactory(points=5)
    holder, also_holder, bystander = (UserFactory(username=n) for n in ("ann", "bea", "cid"))
    grant(holder, entry)
    grant(holder, other)
    grant(also_holder, entry)
    grant(bystander, other)

    response = api.patch(f"{CATALOG}dragon/", {"points": 30})

    assert response.status_code == 200
    assert response.json()["points"] == 30
    figures = {
        name: anonymous.get(f"/api/v1/users/{name}/").json() for name in ("ann", "bea", "cid")
    }
    assert (figures["ann"]["points"], figures["ann"]["achievements_count"]) == (35, 2)
    assert (figures["bea"]["points"], figures["bea"]["achievements_count"]) == (30, 1)
    assert (figures["cid"]["points"], figures["cid"]["achievements_count"]) == (5, 1)
    awards = anonymous.get("/api/v1/users/ann/achievements/").json()["results"]
    assert {a["achievement"]: a["points"] for a in awards}[entry.code] == 30


def test_changing_texts_keeps_the_rest(api, dragon):
    response = api.patch(
        f"{CATALOG}dragon/", {"name_ru": "Победитель драконов"}, HTTP_ACCEPT_LANGUAGE="ru"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Победитель драконов"
    assert body["name_en"] == "Dragon Slayer"
    assert body["description_ru"] == "Убейте дракона."
    assert body["points"] == dragon.points
    assert response["Content-Language"] == "ru"


def test_removing_the_russian_name_falls_back_to_english(api, dragon):
    response = api.patch(f"{CATALOG}dragon/?lang=ru", {"name_ru": None})

    assert response.status_code == 200
    assert response.json()["name_ru"] is None
    assert response.json()["name"] == "Dragon Slayer"


def test_the_code_cannot_be_changed(api, dragon):
    response = api.patch(f"{CATALOG}dragon/", {"code": "wyrm", "points": 20})

    assert response.status_code == 200
    assert response.json()["code"] == "dragon"
    assert Achievement.objects.filter(code="dragon", points=20).exists()
    assert not Achievement.objects.filter(code="wyrm").exists()


def test_read_only_fields_in_a_patch_change_nothing(api, dragon):
    response = api.patch(
        f"{CATALOG}dragon/",
        {"name": "Hacked", "description": "Hacked", "created_at": "2000-01-01T00:00:00Z"},
    )

    assert response.status_code == 200
    dragon_after = Achievement.objects.get(code="dragon")
    assert (dragon_after.name_en, dragon_after.description_en) == (
        "Dragon Slayer",
        "Slay a dragon.",
    )
    assert dragon_after.created_at == dragon.created_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0}, "points"),
        ({"points": 2**40}, "points"),
        ({"points": "5"}, "points"),
        ({"points": True}, "points"),
        ({"points": None}, "points"),
        ({"name_en": ""}, "name_en"),
        ({"name_en": None}, "name_en"),
        ({"description_en": ""}, "description_en"),
        ({"name_ru": "я" * 201}, "name_ru"),
    ],
    ids=["zero", "2**40", "string", "bool", "null", "empty-en", "null-en", "empty-desc", "long"],
)
def test_an_invalid_patch_is_refused_on_its_field_and_changes_nothing(
    api, dragon, grant, body, field
):
    holder = UserFactory()
    grant(holder, dragon)

    response = api.patch(f"{CATALOG}dragon/", body)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    after = Achievement.objects.get(code="dragon")
    assert (after.points, after.name_en, after.name_ru, after.description_en) == (
        dragon.points,
        dragon.name_en,
        dragon.name_ru,
        dragon.description_en,
    )
    holder.refresh_from_db()
    assert holder.points == dragon.points


def test_patching_an_unknown_code_is_404(api):
    response = api.patch(f"{CATALOG}nope/", {"points": 5})

    assert response.status_code == 404


# --- DELETE ---------------------------------------------------------------------------------


def test_removing_an_entry_nobody_holds_answers_204(api, dragon):
    response = api.delete(f"{CATALOG}dragon/")

    assert response.status_code == 204
    assert not response.content
    assert not Achievement.objects.filter(code="dragon").exists()
    assert api.get(f"{CATALOG}dragon/").status_code == 404


def test_removing_an_awarded_entry_is_409_with_a_message_and_deletes_nothing(api, dragon, grant):
    holder = UserFactory(username="ann")
    grant(holder, dragon)

    response = api.delete(f"{CATALOG}dragon/")

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert "dragon" in response.json()["detail"]
    assert Achievement.objects.filter(code="dragon").exists()
    assert Award.objects.filter(user=holder, achievement=dragon).exists()
    holder.refresh_from_db()
    assert (holder.achievements_count, holder.points) == (1, dragon.points)


def test_removing_an_unknown_code_is_404(api):
    response = api.delete(f"{CATALOG}nope/")

    assert response.status_code == 404


# --- query counts ---------------------------------------------------------------------------


def _catalog_of(rows: int) -> None:
    Achievement.objects.all().delete()
    Achievement.objects.bulk_create(
        [
            Achievement(
                code=f"a{i:03d}", points=1, name_en=f"A{i}", name_ru=f"Д{i}", description_en="d"
            )
            for i in range(rows)
        ]
    )


@pytest.mark.parametrize("rows", [5, 60])
def test_the_catalog_takes_a_fixed_number_of_queries(
    anonymous, django_assert_max_num_queries, rows
):
    _catalog_of(rows)

    with django_assert_max_num_queries(2):
        response = anonymous.get(CATALOG, {"limit": 100, "lang": "ru"})

    assert len(response.json()["results"]) == rows


def test_the_catalog_queries_do_not_grow_with_the_page(anonymous, count_queries):
    counts = []
    for rows in (5, 60):
        _catalog_of(rows)
        counts.append(count_queries(lambda: anonymous.get(CATALOG, {"limit": 100})))

    assert counts[0] == counts[1]
