"""`/api/v1/users/{username}/achievements/`: a user's awards, granting and revoking."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from achievements.models import Achievement, Award
from tests.factories import AchievementFactory, UserFactory
from users.models import User

AWARD_FIELDS = ["achievement", "name", "description", "points", "awarded_at"]


def awards_of(username: str) -> str:
    return f"/api/v1/users/{username}/achievements/"


def award_of(username: str, code: str) -> str:
    return f"/api/v1/users/{username}/achievements/{code}/"


def iso(moment: datetime) -> str:
    """How the API writes a moment: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def ann(db):
    return UserFactory(username="ann", language="en")


@pytest.fixture
def dragon(db):
    return AchievementFactory(
        code="dragon",
        points=40,
        name_en="Dragon Slayer",
        name_ru="Драконоборец",
        description_en="Slay a dragon.",
        description_ru="Убейте дракона.",
    )


# --- GET ------------------------------------------------------------------------------------


def test_a_users_awards_read_as_five_fields_newest_first(anonymous, ann, grant):
    entries = [AchievementFactory(code=f"a{i}", points=i + 1) for i in range(3)]
    for entry, days_ago in zip(entries, [3, 1, 2], strict=True):
        grant(ann, entry, days_ago=days_ago)

    response = anonymous.get(awards_of("ann"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert [a["achievement"] for a in body["results"]] == ["a1", "a2", "a0"]
    first = body["results"][0]
    award = Award.objects.get(user=ann, achievement=entries[1])
    assert list(first) == AWARD_FIELDS
    assert first == {
        "achievement": "a1",
        "name": entries[1].name_en,
        "description": entries[1].description_en,
        "points": 2,
        "awarded_at": iso(award.awarded_at),
    }


def test_awards_at_the_same_moment_list_the_latest_granted_first(anonymous, ann, grant):
    moment = timezone.now() - timedelta(hours=1)
    for code in ["b", "a", "c"]:
        grant(ann, AchievementFactory(code=code), at=moment)

    results = anonymous.get(awards_of("ann")).json()["results"]

    assert [a["achievement"] for a in results] == ["c", "a", "b"]


def test_a_user_without_awards_has_an_empty_page(anonymous, ann):
    response = anonymous.get(awards_of("ann"))

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_the_awards_of_an_unknown_user_are_404(anonymous):
    response = anonymous.get(awards_of("nobody"))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_a_users_awards_are_found_by_username_in_any_case(anonymous, ann, dragon, grant):
    grant(ann, dragon)

    response = anonymous.get(awards_of("ANN"))

    assert response.status_code == 200
    assert [a["achievement"] for a in response.json()["results"]] == ["dragon"]


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({}, {}),
        ({"lang": "en"}, {}),
        ({}, {"HTTP_ACCEPT_LANGUAGE": "en"}),
        ({"lang": "en"}, {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}),
    ],
    ids=["plain", "lang-en", "accept-language-en", "both-en"],
)
def test_awards_read_in_the_holders_language_whatever_the_request_asks(
    anonymous, dragon, grant, query, headers
):
    grant(UserFactory(username="ivan", language="ru"), dragon)

    response = anonymous.get(awards_of("ivan"), query, **headers)

    award = response.json()["results"][0]
    assert (award["name"], award["description"]) == ("Драконоборец", "Убейте дракона.")
    assert response["Content-Language"] == "ru"


def test_an_english_holders_awards_stay_english_when_russian_is_asked(
    anonymous, ann, dragon, grant
):
    grant(ann, dragon)

    response = anonymous.get(awards_of("ann"), {"lang": "ru"}, HTTP_ACCEPT_LANGUAGE="ru")

    award = response.json()["results"][0]
    assert (award["name"], award["description"]) == ("Dragon Slayer", "Slay a dragon.")
    assert response["Content-Language"] == "en"


def test_a_russian_holder_sees_english_where_the_translation_is_missing(anonymous, grant):
    entry = AchievementFactory(code="plain", name_en="Plain", description_en="Only English.")
    Achievement.objects.filter(pk=entry.pk).update(name_ru=None, description_ru=None)
    entry.refresh_from_db()
    grant(UserFactory(username="ivan", language="ru"), entry)

    response = anonymous.get(awards_of("ivan"))

    award = response.json()["results"][0]
    assert (award["name"], award["description"]) == ("Plain", "Only English.")


def test_a_users_awards_vary_on_accept_language(anonymous, ann):
    response = anonymous.get(awards_of("ann"))

    assert "accept-language" in response["Vary"].lower()


def test_the_awards_list_pages_by_50_and_caps_the_limit_at_1000(anonymous, ann):
    entries = Achievement.objects.bulk_create(
        [
            Achievement(code=f"a{i:04d}", points=1, name_en=f"A{i}", description_en="d")
            for i in range(1005)
        ]
    )
    now = timezone.now()
    Award.objects.bulk_create(
        [
            Award(user=ann, achievement=entry, awarded_at=now - timedelta(minutes=i))
            for i, entry in enumerate(entries)
        ]
    )

    default = anonymous.get(awards_of("ann")).json()
    capped = anonymous.get(awards_of("ann"), {"limit": 5000}).json()
    past_end = anonymous.get(awards_of("ann"), {"offset": 10**15})

    assert len(default["results"]) == 50
    assert default["results"][0]["achievement"] == "a0000"
    assert capped["count"] == 1005
    assert len(capped["results"]) == 1000
    assert past_end.status_code == 200
    assert past_end.json()["results"] == []


# --- POST -----------------------------------------------------------------------------------


def test_awarding_answers_201_with_the_award_and_moves_the_figures(
    api, anonymous, ann, dragon, integration_account
):
    before = timezone.now()

    response = api.post(awards_of("ann"), {"achievement": "dragon"})

    assert response.status_code == 201
    body = response.json()
    assert list(body) == AWARD_FIELDS
    assert body["achievement"] == "dragon"
    assert (body["name"], body["description"]) == ("Dragon Slayer", "Slay a dragon.")
    assert body["points"] == 40
    awarded_at = datetime.fromisoformat(body["awarded_at"])
    assert before <= awarded_at <= timezone.now()
    assert response["Content-Language"] == "en"
    award = Award.objects.get()
    assert (award.user, award.achievement, award.awarded_at) == (ann, dragon, awarded_at)
    user = anonymous.get("/api/v1/users/ann/").json()
    assert (user["achievements_count"], user["points"]) == (1, 40)


def test_an_award_records_the_account_that_made_it(api, ann, dragon, integration_account):
    api.post(awards_of("ann"), {"achievement": "dragon"})

    assert Award.objects.get().awarded_by == integration_account


def test_an_award_answers_in_the_holders_language(api, dragon):
    UserFactory(username="ivan", language="ru")

    response = api.post(awards_of("ivan"), {"achievement": "dragon"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.json()["name"] == "Драконоборец"
    assert response["Content-Language"] == "ru"


def test_awarding_twice_keeps_the_first_award(api, ann, dragon):
    first = api.post(awards_of("ann"), {"achievement": "dragon"})
    again = api.post(awards_of("ANN"), {"achievement": "dragon"})
    redated = api.post(
        awards_of("ann"), {"achievement": "dragon", "awarded_at": "2020-01-01T00:00:00Z"}
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert redated.status_code == 200
    assert again.json() == first.json()
    assert redated.json() == first.json()
    assert Award.objects.count() == 1
    assert iso(Award.objects.get().awarded_at) == first.json()["awarded_at"]
    ann.refresh_from_db()
    assert (ann.achievements_count, ann.points) == (1, 40)


def test_a_past_moment_can_be_given_to_import_history(api, ann, dragon):
    response = api.post(
        awards_of("ann"), {"achievement": "dragon", "awarded_at": "2021-03-04T05:06:07+03:00"}
    )

    assert response.status_code == 201
    assert response.json()["awarded_at"] == "2021-03-04T02:06:07Z"
    assert Award.objects.get().awarded_at == datetime(2021, 3, 4, 2, 6, 7, tzinfo=UTC)


@override_settings(TIME_ZONE="Europe/Moscow")
def test_a_moment_without_a_time_zone_is_taken_in_the_services_time_zone(api, ann, dragon):
    response = api.post(
        awards_of("ann"), {"achievement": "dragon", "awarded_at": "2024-05-01T10:00:00"}
    )

    assert response.status_code == 201, response.json()
    assert Award.objects.get().awarded_at == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert datetime.fromisoformat(response.json()["awarded_at"]) == datetime(
        2024, 5, 1, 7, 0, tzinfo=UTC
    )


def test_a_moment_without_a_time_zone_is_utc_by_default(api, ann, dragon):
    response = api.post(
        awards_of("ann"), {"achievement": "dragon", "awarded_at": "2024-05-01T10:00:00"}
    )

    assert response.status_code == 201, response.json()
    assert Award.objects.get().awarded_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "awarded_at",
    [
        lambda: iso(timezone.now() + timedelta(minutes=5)),
        lambda: iso(timezone.now() + timedelta(days=3650)),
        lambda: "9999-12-31T23:59:59Z",
        lambda: "9999-12-31T23:59:59-12:00",
    ],
    ids=["minutes-ahead", "years-ahead", "year-9999", "overflowing-utc"],
)
def test_an_award_dated_in_the_future_is_refused_and_adds_nothing(api, ann, dragon, awarded_at):
    response = api.post(awards_of("ann"), {"achievement": "dragon", "awarded_at": awarded_at()})

    assert response.status_code == 400
    assert list(response.json()) == ["awarded_at"]
    assert not Award.objects.exists()
    ann.refresh_from_db()
    assert (ann.achievements_count, ann.points) == (0, 0)


@pytest.mark.parametrize(
    "awarded_at",
    [
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-05-01T25:00:00Z",
        "",
        12345,
        None,
        True,
        ["2024-05-01T00:00:00Z"],
        "0001-01-01T00:00:00+14:00",
        "1969-12-31T23:59:59Z",
    ],
    ids=[
        "words",
        "month-13",
        "february-30",
        "hour-25",
        "empty",
        "number",
        "null",
        "bool",
        "list",
        "year-1-underflowing-utc",
        "before-1970",
    ],
)
def test_a_malformed_moment_is_refused_on_the_awarded_at_field(api, ann, dragon, awarded_at):
    response = api.post(awards_of("ann"), {"achievement": "dragon", "awarded_at": awarded_at})

    assert response.status_code == 400
    assert list(response.json()) == ["awarded_at"]
    assert not Award.objects.exists()


@pytest.mark.parametrize("code", ["nope", "", None, 5, ["dragon"], "DRAGON", "a" * 1000], ids=repr)
def test_an_unknown_achievement_is_refused_on_the_achievement_field(api, ann, dragon, code):
    response = api.post(awards_of("ann"), {"achievement": code})

    assert response.status_code == 400
    assert list(response.json()) == ["achievement"]
    assert not Award.objects.exists()


def test_a_missing_achievement_is_refused_on_the_achievement_field(api, ann):
    response = api.post(awards_of("ann"), {"awarded_at": "2024-05-01T10:00:00Z"})

    assert response.status_code == 400
    assert list(response.json()) == ["achievement"]


def test_awarding_an_unknown_user_is_404(api, dragon):
    response = api.post(awards_of("nobody"), {"achievement": "dragon"})

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
    assert not Award.objects.exists()


def test_read_only_fields_sent_with_an_award_are_ignored(api, ann, dragon, operator):
    response = api.post(
        awards_of("ann"),
        {
            "achievement": "dragon",
            "points": 999,
            "name": "Hacked",
            "awarded_by": operator.pk,
            "user": UserFactory(username="other").pk,
        },
    )

    assert response.status_code == 201
    assert response.json()["points"] == 40
    assert response.json()["name"] == "Dragon Slayer"
    award = Award.objects.get()
    assert award.user == ann
    assert award.awarded_by.username == "integration"
    ann.refresh_from_db()
    assert ann.points == 40


# --- DELETE ---------------------------------------------------------------------------------


def test_revoking_answers_204_and_moves_the_figures_back(api, anonymous, ann, dragon, grant):
    other = AchievementFactory(points=5)
    grant(ann, dragon)
    grant(ann, other)

    response = api.delete(award_of("ANN", "dragon"))

    assert response.status_code == 204
    assert not response.content
    assert list(Award.objects.values_list("achievement__code", flat=True)) == [other.code]
    user = anonymous.get("/api/v1/users/ann/").json()
    assert (user["achievements_count"], user["points"]) == (1, 5)


def test_revoking_an_award_that_is_not_held_is_404(api, ann, dragon):
    response = api.delete(award_of("ann", "dragon"))

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_revoking_twice_is_404_the_second_time(api, ann, dragon, grant):
    grant(ann, dragon)

    first = api.delete(award_of("ann", "dragon"))
    second = api.delete(award_of("ann", "dragon"))

    assert (first.status_code, second.status_code) == (204, 404)


def test_revoking_an_unknown_achievement_is_404(api, ann):
    response = api.delete(award_of("ann", "nope"))

    assert response.status_code == 404


def test_revoking_from_an_unknown_user_is_404(api, dragon):
    response = api.delete(award_of("nobody", "dragon"))

    assert response.status_code == 404


def test_revoking_leaves_other_holders_alone(api, ann, dragon, grant):
    bea = UserFactory(username="bea")
    grant(ann, dragon)
    grant(bea, dragon)

    api.delete(award_of("ann", "dragon"))

    assert Award.objects.filter(user=bea, achievement=dragon).exists()
    bea.refresh_from_db()
    assert (bea.achievements_count, bea.points) == (1, 40)


def test_an_achievement_can_be_deleted_once_its_awards_are_revoked(api, ann, dragon, grant):
    grant(ann, dragon)

    blocked = api.delete("/api/v1/achievements/dragon/")
    revoked = api.delete(award_of("ann", "dragon"))
    deleted = api.delete("/api/v1/achievements/dragon/")

    assert (blocked.status_code, revoked.status_code, deleted.status_code) == (409, 204, 204)


def test_only_get_post_and_delete_are_offered(api, ann, dragon, grant):
    grant(ann, dragon)

    assert api.put(awards_of("ann"), {"achievement": "dragon"}).status_code == 405
    assert api.patch(award_of("ann", "dragon"), {}).status_code == 405
    assert api.get(award_of("ann", "dragon")).status_code == 405


# --- query counts ---------------------------------------------------------------------------


def _awards_for(user: User, rows: int) -> None:
    Award.objects.all().delete()
    Achievement.objects.all().delete()
    entries = Achievement.objects.bulk_create(
        [
            Achievement(code=f"a{i:03d}", points=1, name_en=f"A{i}", description_en="d")
            for i in range(rows)
        ]
    )
    Award.objects.bulk_create([Award(user=user, achievement=entry) for entry in entries])


@pytest.mark.parametrize("rows", [5, 60])
def test_a_users_awards_take_a_fixed_number_of_queries(
    anonymous, ann, django_assert_max_num_queries, rows
):
    _awards_for(ann, rows)

    with django_assert_max_num_queries(3):
        response = anonymous.get(awards_of("ann"), {"limit": 100})

    assert len(response.json()["results"]) == rows


def test_a_users_awards_queries_do_not_grow_with_the_page(anonymous, ann, count_queries):
    counts = []
    for rows in (5, 60):
        _awards_for(ann, rows)
        counts.append(count_queries(lambda: anonymous.get(awards_of("ann"), {"limit": 100})))

    assert counts[0] == counts[1]
