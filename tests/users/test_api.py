"""`/api/v1/users/`: register, list (search, ordering, pages), read, change and remove users."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from achievements.models import Award
from tests.factories import AchievementFactory, UserFactory
from users.models import User

USERS = "/api/v1/users/"
USER_FIELDS = {"username", "language", "time_zone", "created_at", "achievements_count", "points"}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- POST /users/ ---------------------------------------------------------------------------


def test_registering_a_user_answers_201_with_the_user_and_zero_figures(api):
    before = timezone.now()

    response = api.post(USERS, {"username": "Alice", "language": "ru"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["username"] == "Alice"
    assert body["language"] == "ru"
    assert body["achievements_count"] == 0
    assert body["points"] == 0
    assert before - timedelta(seconds=1) <= parse_time(body["created_at"]) <= timezone.now()
    stored = User.objects.get()
    assert (stored.username, stored.language) == ("Alice", "ru")


def test_a_registered_user_reads_in_english_by_default(api):
    response = api.post(USERS, {"username": "bob"})

    assert response.status_code == 201
    assert response.json()["language"] == "en"


@pytest.mark.parametrize(
    "username",
    ["a", "a.b+c@d_e-f", "UPPER.lower", "0123456789", "x" * 150, "_-.+@"],
    ids=["one-char", "every-symbol", "mixed-case", "digits", "150-chars", "symbols-only"],
)
def test_every_username_the_rule_allows_can_register(api, username):
    response = api.post(USERS, {"username": username})

    assert response.status_code == 201, response.json()
    assert response.json()["username"] == username


@pytest.mark.parametrize(
    "username",
    ["", "x" * 151, "with space", "slash/inside", "юзер", "naïve", "tab\tname", "semi;colon", " a"],
    ids=[
        "empty",
        "151-chars",
        "space",
        "slash",
        "cyrillic",
        "accent",
        "tab",
        "semicolon",
        "leading-space",
    ],
)
def test_a_username_outside_the_rule_is_refused_on_the_username_field(api, username):
    response = api.post(USERS, {"username": username})

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert response.json()["username"]
    assert not User.objects.exists()


@pytest.mark.parametrize("value", [None, ["alice"], {"name": "alice"}, True])
def test_a_username_that_is_not_a_string_is_refused(api, value):
    response = api.post(USERS, {"username": value})

    assert response.status_code == 400
    assert "username" in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("username", [".", "..", "..."])
def test_a_username_of_dots_only_is_refused_on_the_username_field(api, username):
    # A browser, curl and nginx resolve `/users/../` away: such a user could never be reached.
    response = api.post(USERS, {"username": username})

    assert response.status_code == 400
    assert response.json() == {"username": ["A username cannot be made of dots only."]}
    assert not User.objects.exists()


def test_a_missing_username_is_refused_on_the_username_field(api):
    response = api.post(USERS, {"language": "en"})

    assert response.status_code == 400
    assert list(response.json()) == ["username"]


@pytest.mark.parametrize("taken_as", ["alice", "ALICE", "Alice", "aLiCe"])
def test_a_username_taken_in_any_case_is_refused(api, taken_as):
    UserFactory(username="Alice")

    response = api.post(USERS, {"username": taken_as})

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert "already exists" in response.json()["username"][0]
    assert User.objects.count() == 1


@pytest.mark.parametrize("language", ["fr", "EN", "", None, "english", 1])
def test_a_language_that_is_not_configured_is_refused_on_the_language_field(api, language):
    response = api.post(USERS, {"username": "alice", "language": language})

    assert response.status_code == 400
    assert list(response.json()) == ["language"]
    assert not User.objects.exists()


def test_figures_sent_on_registration_are_ignored(api):
    response = api.post(
        USERS,
        {
            "username": "cheater",
            "points": 1000,
            "achievements_count": 7,
            "created_at": "2000-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["points"], body["achievements_count"]) == (0, 0)
    assert parse_time(body["created_at"]).year != 2000
    stored = User.objects.get()
    assert (stored.points, stored.achievements_count) == (0, 0)


# --- GET /users/{username}/ -----------------------------------------------------------------


def test_a_user_reads_as_its_six_fields(anonymous, grant):
    user = UserFactory(username="Alice", language="ru")
    grant(user, AchievementFactory(points=10))
    grant(user, AchievementFactory(points=25))

    response = anonymous.get(f"{USERS}Alice/")

    assert response.status_code == 200
    assert response.json() == {
        "username": "Alice",
        "language": "ru",
        "time_zone": "UTC",
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
        "achievements_count": 2,
        "points": 35,
    }


@pytest.mark.parametrize("asked_as", ["alice", "ALICE", "aLIce"])
def test_a_user_is_found_by_username_in_any_case(anonymous, asked_as):
    UserFactory(username="Alice")

    response = anonymous.get(f"{USERS}{asked_as}/")

    assert response.status_code == 200
    assert response.json()["username"] == "Alice"


@pytest.mark.parametrize(
    "path", ["a.b+c@d_e-f", "a.b%2Bc%40d_e-f", "A.B+C@D_E-F"], ids=["raw", "encoded", "upper"]
)
def test_a_username_with_every_allowed_symbol_works_in_the_url(api, path):
    UserFactory(username="a.b+c@d_e-f")

    read = api.get(f"{USERS}{path}/")
    changed = api.patch(f"{USERS}{path}/", {"language": "ru"})
    awards = api.get(f"{USERS}{path}/achievements/")
    removed = api.delete(f"{USERS}{path}/")

    assert read.status_code == 200
    assert read.json()["username"] == "a.b+c@d_e-f"
    assert changed.status_code == 200
    assert changed.json()["language"] == "ru"
    assert awards.status_code == 200
    assert removed.status_code == 204
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["a..b", ".a", "a.", "..._", "@", "+"])
def test_usernames_made_of_dots_and_symbols_are_reachable(api, username):
    created = api.post(USERS, {"username": username})

    response = api.get(f"{USERS}{username}/")

    assert created.status_code == 201
    assert response.status_code == 200
    assert response.json()["username"] == username


def test_an_unknown_user_is_404_with_a_detail(anonymous):
    response = anonymous.get(f"{USERS}nobody/")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


# --- PATCH /users/{username}/ ---------------------------------------------------------------


def test_changing_the_language_answers_the_changed_user(api):
    user = UserFactory(username="alice", language="en")

    response = api.patch(f"{USERS}ALICE/", {"language": "ru"})

    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    assert response.json()["language"] == "ru"
    user.refresh_from_db()
    assert user.language == "ru"


def test_a_language_change_to_an_unknown_language_is_refused_and_changes_nothing(api):
    user = UserFactory(username="alice", language="en")

    response = api.patch(f"{USERS}alice/", {"language": "de"})

    assert response.status_code == 400
    assert list(response.json()) == ["language"]
    user.refresh_from_db()
    assert user.language == "en"


def test_read_only_fields_in_a_patch_change_nothing(api, grant):
    user = UserFactory(username="alice", language="en")
    grant(user, AchievementFactory(points=10))
    created_at = user.created_at

    response = api.patch(
        f"{USERS}alice/",
        {
            "language": "ru",
            "username": "mallory",
            "points": 999,
            "achievements_count": 99,
            "created_at": "2000-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert (body["points"], body["achievements_count"]) == (10, 1)
    user.refresh_from_db()
    assert (user.username, user.language, user.points, user.achievements_count) == (
        "alice",
        "ru",
        10,
        1,
    )
    assert user.created_at == created_at


def test_patching_an_unknown_user_is_404(api):
    response = api.patch(f"{USERS}nobody/", {"language": "ru"})

    assert response.status_code == 404


def test_put_is_not_offered_on_a_user(api):
    UserFactory(username="alice")

    response = api.put(f"{USERS}alice/", {"language": "ru"})

    assert response.status_code == 405


# --- DELETE /users/{username}/ --------------------------------------------------------------


def test_removing_a_user_removes_their_awards_and_nobody_elses(api, grant):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    shared = AchievementFactory()
    grant(alice, shared)
    grant(alice, AchievementFactory())
    grant(bob, shared)

    response = api.delete(f"{USERS}Alice/")

    assert response.status_code == 204
    assert not response.content
    assert not User.objects.filter(username="alice").exists()
    assert not Award.objects.filter(user_id=alice.pk).exists()
    assert Award.objects.filter(user=bob).count() == 1
    bob.refresh_from_db()
    assert (bob.achievements_count, bob.points) == (1, shared.points)
    assert api.get(f"{USERS}alice/").status_code == 404


def test_removing_an_unknown_user_is_404(api):
    response = api.delete(f"{USERS}nobody/")

    assert response.status_code == 404


# --- GET /users/: envelope, pages, search, ordering -----------------------------------------


def test_the_user_list_is_a_paginated_envelope_of_users(anonymous):
    UserFactory(username="alice")

    response = anonymous.get(USERS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    assert [set(u) for u in body["results"]] == [USER_FIELDS]


def test_the_user_list_pages_by_50_by_default(anonymous):
    User.objects.bulk_create([User(username=f"user{i:03d}") for i in range(55)])

    first = anonymous.get(USERS).json()
    second = anonymous.get(first["next"]).json()

    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert "limit=50" in first["next"] and "offset=50" in first["next"]
    assert first["previous"] is None
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] is not None
    names = [u["username"] for u in first["results"] + second["results"]]
    assert names == sorted(f"user{i:03d}" for i in range(55))


def test_a_limit_above_1000_is_capped_at_1000(anonymous):
    User.objects.bulk_create([User(username=f"bulk{i:04d}") for i in range(1005)])

    response = anonymous.get(USERS, {"limit": 5000})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1005
    assert len(body["results"]) == 1000
    assert body["next"] is not None


def test_an_explicit_limit_and_offset_select_the_page(anonymous):
    User.objects.bulk_create([User(username=f"user{i}") for i in range(10)])

    body = anonymous.get(USERS, {"limit": 3, "offset": 4}).json()

    assert [u["username"] for u in body["results"]] == ["user4", "user5", "user6"]


@pytest.mark.parametrize("offset", [1_000, 10**6, 2**63, 10**30])
def test_an_offset_past_the_end_is_an_empty_page_not_an_error(anonymous, offset):
    UserFactory()

    response = anonymous.get(USERS, {"offset": offset})

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert response.json()["count"] == 1


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", str(2**64)])
def test_a_nonsense_limit_falls_back_to_a_valid_page(anonymous, limit):
    UserFactory()

    response = anonymous.get(USERS, {"limit": limit})

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert len(response.json()["results"]) == 1


def test_search_finds_users_whose_name_contains_the_text_in_any_case(anonymous):
    for name in ["Alice", "malice", "bob", "ALI.baba", "carol"]:
        UserFactory(username=name)

    response = anonymous.get(USERS, {"search": "ali"})

    assert response.status_code == 200
    assert [u["username"] for u in response.json()["results"]] == ["ALI.baba", "Alice", "malice"]
    assert response.json()["count"] == 3


def test_search_with_like_wildcards_matches_them_literally(anonymous):
    for name in ["a_b", "axb", "a%b"]:
        UserFactory(username=name.replace("%", "-"))

    underscore = anonymous.get(USERS, {"search": "a_b"}).json()
    percent = anonymous.get(USERS, {"search": "%"}).json()

    assert [u["username"] for u in underscore["results"]] == ["a_b"]
    assert percent["results"] == []


def test_the_default_order_is_by_username_in_code_point_order(anonymous):
    for name in ["b", "A", "_", "0", "C"]:
        UserFactory(username=name)

    response = anonymous.get(USERS)

    assert [u["username"] for u in response.json()["results"]] == ["0", "A", "C", "_", "b"]


@pytest.fixture
def ordered_users(grant):
    """Users whose figures and creation times tie in pairs, so the username decides."""
    ten, five = AchievementFactory(points=10), AchievementFactory(points=5)
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    specs = {
        # username: (achievements held, created minutes after `moment`)
        "a": ([ten], 0),
        "B": ([ten], 0),
        "c": ([five], 1),
        "D": ([ten, five], 2),
        "e": ([], 1),
    }
    for username, (held, minutes) in specs.items():
        user = UserFactory(username=username, created_at=moment + timedelta(minutes=minutes))
        for achievement in held:
            grant(user, achievement)
    return list(User.objects.all())


def _expected(users, field: str, descending: bool) -> list[str]:
    by_name = sorted(users, key=lambda u: u.username)  # Python compares code points.
    return [
        u.username for u in sorted(by_name, key=lambda u: getattr(u, field), reverse=descending)
    ]


@pytest.mark.parametrize("field", ["points", "achievements_count", "username", "created_at"])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_ordering_by_each_allowed_field_breaks_ties_by_username_in_code_point_order(
    anonymous, ordered_users, field, descending
):
    param = f"-{field}" if descending else field

    response = anonymous.get(USERS, {"ordering": param})

    assert response.status_code == 200
    got = [u["username"] for u in response.json()["results"]]
    assert got == _expected(ordered_users, field, descending)


def test_ordering_ties_put_uppercase_before_lowercase(anonymous, ordered_users):
    response = anonymous.get(USERS, {"ordering": "-points"})

    got = [u["username"] for u in response.json()["results"]]
    # "B" and "a" both have 10 points: "B" (U+0042) sorts before "a" (U+0061).
    assert got == ["D", "B", "a", "c", "e"]


def test_ordering_by_several_fields_applies_them_in_turn(anonymous, ordered_users):
    response = anonymous.get(USERS, {"ordering": "-achievements_count,-username"})

    got = [u["username"] for u in response.json()["results"]]
    assert got == ["D", "c", "a", "B", "e"]


@pytest.mark.parametrize("ordering", ["password", "language", "-id", "points;drop", "-", "pk"])
def test_ordering_by_an_unknown_field_is_refused_on_the_ordering_parameter(anonymous, ordering):
    UserFactory()

    response = anonymous.get(USERS, {"ordering": ordering})

    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]


def test_search_and_ordering_combine(anonymous, grant):
    for name, points in [("xa", 0), ("Xb", 10), ("yc", 5), ("Xc", 5)]:
        user = UserFactory(username=name)
        if points:
            grant(user, AchievementFactory(points=points))

    response = anonymous.get(USERS, {"search": "x", "ordering": "-points"})

    assert [u["username"] for u in response.json()["results"]] == ["Xb", "Xc", "xa"]


# --- query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [5, 60])
def test_the_user_list_takes_a_fixed_number_of_queries(
    anonymous, django_assert_max_num_queries, rows
):
    User.objects.bulk_create([User(username=f"user{i:03d}") for i in range(rows)])

    with django_assert_max_num_queries(2):
        response = anonymous.get(USERS, {"limit": 100, "ordering": "-points"})

    assert len(response.json()["results"]) == rows


def test_the_user_list_queries_do_not_grow_with_the_page(api, count_queries):
    api.get(USERS)  # with a token cache configured, the first request fills it
    counts = []
    for rows in (5, 60):
        User.objects.all().delete()
        User.objects.bulk_create([User(username=f"user{i:03d}") for i in range(rows)])
        counts.append(count_queries(lambda: api.get(USERS, {"limit": 100})))

    assert counts[0] == counts[1]


def test_an_empty_patch_leaves_the_user_unchanged(api):
    # The schema publishes every PATCH field as optional, as the catalog's PATCH treats them.
    UserFactory(username="alice", language="ru")

    response = api.patch(f"{USERS}alice/", {})

    assert response.status_code == 200
    assert response.json()["language"] == "ru"


# --- time zones -------------------------------------------------------------------------------


def test_a_new_user_takes_the_services_time_zone_by_default(api, settings):
    settings.TIME_ZONE = "Asia/Kathmandu"

    response = api.post(USERS, {"username": "alice"})

    assert response.status_code == 201
    assert response.json()["time_zone"] == "Asia/Kathmandu"


def test_a_user_can_be_registered_in_a_time_zone(api):
    response = api.post(USERS, {"username": "alice", "time_zone": "America/New_York"})

    assert response.status_code == 201
    assert response.json()["time_zone"] == "America/New_York"
    assert User.objects.get().time_zone == "America/New_York"


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "utc ", "", "america/new_york", "../../etc/passwd", 3, None, "x" * 65]
)
def test_an_unknown_time_zone_is_a_400_naming_it_and_creates_nothing(api, zone):
    response = api.post(USERS, {"username": "alice", "time_zone": zone}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["time_zone"]
    assert not User.objects.exists()


def test_changing_the_time_zone_recomputes_the_streak_at_once(api, grant):
    user = UserFactory(username="alice", time_zone="UTC")
    # 20:30 and 21:30 UTC: one day in UTC, two days (23:30 and 00:30) in Moscow.
    grant(user, AchievementFactory(), at=datetime(2024, 3, 10, 20, 30, tzinfo=UTC))
    grant(user, AchievementFactory(), at=datetime(2024, 3, 10, 21, 30, tzinfo=UTC))

    response = api.patch(f"{USERS}alice/", {"time_zone": "Europe/Moscow"})

    assert response.status_code == 200
    assert response.json()["time_zone"] == "Europe/Moscow"
    assert response.json()["language"] == "en"
    user.refresh_from_db()
    assert (user.longest_streak, user.streak_start.isoformat()) == (2, "2024-03-10")


def test_an_unknown_time_zone_in_a_change_is_a_400_and_changes_nothing(api):
    user = UserFactory(username="alice", time_zone="UTC")

    response = api.patch(f"{USERS}alice/", {"time_zone": "Europe/Atlantis"})

    assert response.status_code == 400
    assert list(response.json()) == ["time_zone"]
    user.refresh_from_db()
    assert user.time_zone == "UTC"
