"""Every stats endpoint, read through the API, equals the brute-force oracle: on seeded random
datasets written through the services, and in the named cases the SPEC's rules hinge on."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from achievements.models import Achievement
from achievements.services.awards import award_grant, award_revoke
from achievements.services.catalog import achievement_update
from tests.factories import AchievementFactory, UserFactory
from tests.stats.oracle import PAGE, AwardRow, Oracle, database_oracle
from users.models import User
from users.services import user_delete

pytestmark = pytest.mark.django_db

STATS = "/api/v1/stats/"


# Helpers -------------------------------------------------------------------------------------


def on(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment on the given day of March 2024, in UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def time_zone(settings):
    """`time_zone(name)` switches TIME_ZONE for this test; grant only after switching."""

    def switch(name: str) -> None:
        timezone.get_default_timezone.cache_clear()
        settings.TIME_ZONE = name
        timezone.get_default_timezone.cache_clear()
        assert str(timezone.get_default_timezone()) == name

    yield switch
    timezone.get_default_timezone.cache_clear()


def award(user: User, points: int, at: datetime) -> Achievement:
    """Grant `user` a new achievement worth `points` at `at`, through the service."""
    achievement = AchievementFactory(points=points)
    _award, created = award_grant(user=user, achievement=achievement, awarded_at=at)
    assert created
    return achievement


def get(api: APIClient, path: str, **params) -> dict:
    response = api.get(STATS + path, params)
    assert response.status_code == 200, response.content
    return response.json()


def every_page(api: APIClient, path: str, limit: int, **params) -> list[dict]:
    """All results of a paginated endpoint, following `next` from the first page."""
    first = get(api, path, limit=limit, **params)
    assert first["previous"] is None
    count, results, url = first["count"], list(first["results"]), first["next"]
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == count
        assert body["previous"] is not None
        results += body["results"]
        url = body["next"]
    assert len(results) == count
    return results


def ranks(api: APIClient, by: str, **params) -> list[tuple[str, int]]:
    """(username, rank) of each row of a leaderboard page."""
    rows = get(api, "leaderboard/", by=by, **params)["results"]
    return [(row["username"], row["rank"]) for row in rows]


RARITY_FIELDS = ("code", "points", "holders", "holders_percent")


def rarity(rows: list[dict]) -> list[dict]:
    return [{field: row[field] for field in RARITY_FIELDS} for row in rows]


def assert_endpoints_match(api: APIClient, oracle: Oracle, limit: int = 7) -> None:
    """Every endpoint equals the oracle; paginated ones are read in pages of `limit`."""
    assert get(api, "most-achievements/") == oracle.most_achievements()
    assert get(api, "most-points/") == oracle.most_points()
    assert get(api, "max-points-gap/") == oracle.max_points_gap()
    assert get(api, "min-points-gap/") == oracle.min_points_gap()
    longest = max((oracle.longest_run(u)[0] for u in oracle.usernames), default=0)
    for days in sorted({2, 3, 4, 7, max(2, longest), longest + 1} - {1}):
        assert every_page(api, "streaks/", limit, days=days) == oracle.streaks(days)
    for by in ("points", "achievements"):
        board = oracle.leaderboard(by)
        assert every_page(api, "leaderboard/", limit, by=by) == board
        # A page at every offset, past the end too: rows, ranks (inside ties) and the count.
        for offset in range(len(board) + 2):
            page = get(api, "leaderboard/", by=by, limit=3, offset=offset)
            assert (page["count"], page["results"]) == (len(board), board[offset : offset + 3])
    assert rarity(every_page(api, "achievements/", limit)) == oracle.achievements()
    for days in (None, 2, 3):
        params = {} if days is None else {"days": days}
        body, expected = get(api, "", **params), oracle.summary(**params)
        streaks, expected_streaks = body.pop("streaks"), expected.pop("streaks")
        # The oracle has no URLs: the link to the rest is checked by its own test.
        assert (streaks.pop("next") is None) is (expected_streaks["count"] <= PAGE)
        assert streaks.pop("previous") is None
        assert streaks == expected_streaks
        assert body == expected


# Randomized datasets -------------------------------------------------------------------------

START = datetime(2024, 3, 1, tzinfo=UTC)


def random_moment(rng: random.Random, day: int) -> datetime:
    """A moment on day `day` after START, often within an hour of a midnight somewhere."""
    if rng.random() < 0.4:
        # Near midnight in UTC, Tokyo (15:00 UTC) or New York (04:00/05:00 UTC).
        hour = rng.choice([23, 0, 14, 15, 4, 5])
        minute = rng.choice([0, 1, 29, 30, 58, 59])
    else:
        hour, minute = rng.randrange(24), rng.randrange(60)
    return START + timedelta(days=day, hours=hour, minutes=minute)


def random_username(rng: random.Random, n: int) -> str:
    # Mixed case, digits and "_" so that code point order differs from case-insensitive order.
    return rng.choice(["adam", "Adam", "zed", "Zed", "_x", "bob", "B", "0"]) + str(n)


class RandomWorld:
    """A seeded random dataset written through the services, and the rows the oracle expects
    (tracked here, independently of the database)."""

    def __init__(self, seed: int, distinct_totals: bool = False):
        """With `distinct_totals`, nobody is idle and points are drawn from a wide range, so no
        two users share a total (the smallest gap is then not 0)."""
        self.rng = rng = random.Random(seed)
        self.users = {
            name: UserFactory(username=name)
            for name in (random_username(rng, n) for n in range(rng.randint(20, 40)))
        }
        self.catalog = {
            a.code: a
            for a in (
                AchievementFactory(
                    points=rng.randint(1, 1_000_000)
                    if distinct_totals
                    # Few distinct point values, so totals tie often.
                    else rng.choice([5, 10, 10, 20, 25, 50])
                )
                for _ in range(14)
            )
        }
        self.held: dict[tuple[str, str], datetime] = {}
        idle = (
            set() if distinct_totals else set(rng.sample(sorted(self.users), len(self.users) // 5))
        )
        for name in sorted(set(self.users) - idle):
            # Runs of mostly consecutive days over about 20 days, sometimes two awards a day.
            day = rng.randrange(20)
            for code in rng.sample(sorted(self.catalog), rng.randint(1, 10)):
                self.grant(name, code, random_moment(rng, day))
                day = min(19, day + rng.choice([0, 1, 1, 1, 1, 2, 3]))
        if distinct_totals:
            # An achievement of one's own as well, so no two users hold the same set.
            for name in sorted(self.users):
                own = AchievementFactory(points=rng.randint(1, 1_000_000))
                self.catalog[own.code] = own
                self.grant(name, own.code, random_moment(rng, rng.randrange(20)))

    def grant(self, name: str, code: str, at: datetime) -> None:
        _award, created = award_grant(
            user=self.users[name], achievement=self.catalog[code], awarded_at=at
        )
        assert created is ((name, code) not in self.held)
        self.held.setdefault((name, code), at)

    def revoke(self, name: str, code: str) -> None:
        award_revoke(user=self.users[name], achievement=self.catalog[code])
        del self.held[(name, code)]

    def oracle(self) -> Oracle:
        rows = [
            AwardRow(name, code, at, self.catalog[code].points)
            for (name, code), at in self.held.items()
        ]
        oracle = Oracle(
            self.users,
            {code: a.points for code, a in self.catalog.items()},
            rows,
            timezone.get_default_timezone(),
        )
        # The database holds exactly the awards written, so the oracle judges the same data.
        stored = database_oracle().awards
        assert sorted((a.username, a.code, a.awarded_at) for a in stored) == sorted(
            (a.username, a.code, a.awarded_at) for a in rows
        )
        return oracle

    def mutate(self) -> None:
        """Revocations, backdated grants, points changes and a deletion."""
        rng = self.rng
        for name, code in rng.sample(sorted(self.held), min(8, len(self.held))):
            self.revoke(name, code)
        for name in rng.sample(sorted(self.users), 8):
            moment = random_moment(rng, rng.randrange(20))
            self.grant(name, rng.choice(sorted(self.catalog)), moment)
        for code in rng.sample(sorted(self.catalog), 3):
            achievement = self.catalog[code]
            self.catalog[code] = achievement_update(
                achievement=achievement, points=rng.choice([1, 5, 15, 40, 100])
            )
        name = rng.choice(sorted(self.users))
        user_delete(user=self.users.pop(name))
        self.held = {key: at for key, at in self.held.items() if key[0] != name}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_endpoint_equals_the_oracle_on_random_data(api, time_zone, zone, seed):
    time_zone(zone)
    world = RandomWorld(seed)

    assert_endpoints_match(api, world.oracle())

    world.mutate()

    assert_endpoints_match(api, world.oracle())


@pytest.mark.parametrize("seed", [4, 5])
def test_every_endpoint_equals_the_oracle_when_no_two_totals_tie(api, time_zone, seed):
    time_zone("UTC")
    world = RandomWorld(seed, distinct_totals=True)
    oracle = world.oracle()
    totals = [b["points"] for b in oracle.briefs()]
    assert len(set(totals)) == len(totals)

    assert_endpoints_match(api, oracle)
    assert get(api, "min-points-gap/")["difference"] > 0


def test_random_data_has_what_the_comparison_needs(time_zone):
    """Guards the generator: ties, idle users and streaks must actually occur."""
    time_zone("UTC")
    oracle = RandomWorld(1).oracle()

    totals = [b["points"] for b in oracle.briefs()]
    assert totals.count(0) >= 4
    assert len(totals) - len(set(totals)) >= 5
    assert sum(oracle.longest_run(u)[0] >= 3 for u in oracle.usernames) >= 3
    assert any(u[0].isupper() for u in oracle.usernames)
    assert any(u[0].islower() for u in oracle.usernames)


# Ties, no awards, fewer than two users ---------------------------------------------------------


def test_users_tied_at_the_top_are_all_leaders_in_code_point_order(api):
    adam, zed, eve = (UserFactory(username=n) for n in ("adam", "Zed", "eve"))
    for user in (adam, zed):
        award(user, 30, on(1))
        award(user, 20, on(2))
    award(eve, 45, on(3))

    most_points = get(api, "most-points/")
    assert most_points == {
        "points": 50,
        "users": [
            {"username": "Zed", "achievements_count": 2, "points": 50},
            {"username": "adam", "achievements_count": 2, "points": 50},
        ],
    }
    assert [u["username"] for u in get(api, "most-achievements/")["users"]] == ["Zed", "adam"]
    # The highest is the first of the tied leaders by username, the lowest comes from the rest.
    assert get(api, "max-points-gap/") == {
        "difference": 5,
        "users": [
            {"username": "Zed", "achievements_count": 2, "points": 50},
            {"username": "eve", "achievements_count": 1, "points": 45},
        ],
    }
    assert get(api, "min-points-gap/")["difference"] == 0
    assert [u["username"] for u in get(api, "min-points-gap/")["users"]] == ["Zed", "adam"]
    assert ranks(api, "points") == [
        ("Zed", 1),
        ("adam", 1),
        ("eve", 3),
    ]
    assert_endpoints_match(api, database_oracle())


def test_users_without_awards_count_everywhere(api):
    UserFactory(username="idle-b")
    UserFactory(username="idle-a")
    busy = UserFactory(username="busy")
    held = award(busy, 10, on(1))
    AchievementFactory(code="nobody-has-it", points=5)

    assert get(api, "max-points-gap/") == {
        "difference": 10,
        "users": [
            {"username": "busy", "achievements_count": 1, "points": 10},
            {"username": "idle-a", "achievements_count": 0, "points": 0},
        ],
    }
    assert [u["username"] for u in get(api, "min-points-gap/")["users"]] == ["idle-a", "idle-b"]
    assert ranks(api, "achievements") == [("busy", 1), ("idle-a", 2), ("idle-b", 2)]
    assert rarity(get(api, "achievements/")["results"]) == [
        {"code": "nobody-has-it", "points": 5, "holders": 0, "holders_percent": 0},
        {"code": held.code, "points": 10, "holders": 1, "holders_percent": 33.33},
    ]
    assert_endpoints_match(api, database_oracle())


def test_when_nobody_has_an_award_there_are_no_leaders_but_there_are_gaps(api):
    UserFactory(username="b")
    UserFactory(username="a")
    UserFactory(username="C")
    AchievementFactory(code="unheld")

    assert get(api, "most-achievements/") == {"achievements_count": 0, "users": []}
    assert get(api, "most-points/") == {"points": 0, "users": []}
    brief = {"achievements_count": 0, "points": 0}
    # Everybody ties at 0: the highest is "C", the lowest is the first of the others, "a".
    assert get(api, "max-points-gap/") == {
        "difference": 0,
        "users": [{"username": "C", **brief}, {"username": "a", **brief}],
    }
    assert get(api, "min-points-gap/") == {
        "difference": 0,
        "users": [{"username": "C", **brief}, {"username": "a", **brief}],
    }
    assert get(api, "streaks/", days=2)["results"] == []
    assert [r["rank"] for r in get(api, "leaderboard/", by="points")["results"]] == [1, 1, 1]
    assert_endpoints_match(api, database_oracle())


def test_without_users_every_answer_is_empty(api):
    AchievementFactory(code="unheld")

    assert get(api, "most-achievements/") == {"achievements_count": 0, "users": []}
    assert get(api, "most-points/") == {"points": 0, "users": []}
    assert get(api, "max-points-gap/") == {"difference": None, "users": []}
    assert get(api, "min-points-gap/") == {"difference": None, "users": []}
    empty_page = {"count": 0, "next": None, "previous": None, "results": []}
    assert get(api, "streaks/") == empty_page
    assert get(api, "leaderboard/", by="points") == empty_page
    assert rarity(get(api, "achievements/")["results"]) == [
        {"code": "unheld", "points": 10, "holders": 0, "holders_percent": 0}
    ]
    assert get(api, "") == {
        "most_achievements": {"achievements_count": 0, "users": []},
        "most_points": {"points": 0, "users": []},
        "max_points_gap": {"difference": None, "users": []},
        "min_points_gap": {"difference": None, "users": []},
        "streaks": {"days": 7, **empty_page},
    }
    assert_endpoints_match(api, database_oracle())


def test_with_one_user_there_is_no_gap(api):
    solo = UserFactory(username="solo")
    award(solo, 10, on(1))
    award(solo, 10, on(2))

    brief = {"username": "solo", "achievements_count": 2, "points": 20}
    assert get(api, "most-points/") == {"points": 20, "users": [brief]}
    assert get(api, "most-achievements/") == {"achievements_count": 2, "users": [brief]}
    assert get(api, "max-points-gap/") == {"difference": None, "users": []}
    assert get(api, "min-points-gap/") == {"difference": None, "users": []}
    assert get(api, "leaderboard/", by="points")["results"] == [{**brief, "rank": 1}]
    assert_endpoints_match(api, database_oracle())


# Streaks ---------------------------------------------------------------------------------------


def streak_of(api: APIClient, username: str, days: int = 2) -> tuple | None:
    rows = [r for r in every_page(api, "streaks/", 50, days=days) if r["username"] == username]
    if not rows:
        return None
    (row,) = rows
    return row["longest_streak"], row["streak_start"], row["streak_end"]


def test_one_missing_day_breaks_the_streak(api):
    user = UserFactory()
    for day in (1, 2, 3, 5, 6):
        award(user, 10, on(day))

    assert streak_of(api, user.username, days=3) == (3, "2024-03-01", "2024-03-03")
    assert streak_of(api, user.username, days=4) is None
    assert_endpoints_match(api, database_oracle())


def test_two_awards_on_one_day_count_once(api):
    user = UserFactory()
    award(user, 10, on(1, 0, 5))
    award(user, 10, on(1, 23, 55))
    award(user, 10, on(2, 12))

    assert streak_of(api, user.username) == (2, "2024-03-01", "2024-03-02")
    assert streak_of(api, user.username, days=3) is None
    assert_endpoints_match(api, database_oracle())


@pytest.mark.parametrize(
    ("zone", "moments", "expected"),
    [
        # 14:59 and 15:01 UTC are 23:59 and 00:01 in Tokyo: two days there.
        ("Asia/Tokyo", [on(1, 14, 59), on(1, 15, 1)], (2, "2024-03-01", "2024-03-02")),
        ("UTC", [on(1, 14, 59), on(1, 15, 1)], None),
        # 15:01 UTC on the 1st and 14:59 UTC on the 2nd are both the 2nd in Tokyo.
        ("Asia/Tokyo", [on(1, 15, 1), on(2, 14, 59)], None),
        ("UTC", [on(1, 15, 1), on(2, 14, 59)], (2, "2024-03-01", "2024-03-02")),
        # 04:30 and 05:30 UTC on the 2nd are 23:30 on the 1st and 00:30 on the 2nd in New York.
        ("America/New_York", [on(2, 4, 30), on(2, 5, 30)], (2, "2024-03-01", "2024-03-02")),
        ("UTC", [on(2, 4, 30), on(2, 5, 30)], None),
        # 23:30 UTC on the 1st and 00:30 UTC on the 2nd are both the 1st in New York.
        ("America/New_York", [on(1, 23, 30), on(2, 0, 30)], None),
        ("UTC", [on(1, 23, 30), on(2, 0, 30)], (2, "2024-03-01", "2024-03-02")),
    ],
)
def test_awards_near_midnight_fall_on_days_of_the_service_time_zone(
    api, time_zone, zone, moments, expected
):
    time_zone(zone)
    user = UserFactory()
    for moment in moments:
        award(user, 10, moment)

    assert streak_of(api, user.username) == expected
    assert_endpoints_match(api, database_oracle())


def test_an_older_longer_run_beats_a_later_shorter_one(api):
    user = UserFactory()
    for day in (1, 2, 3, 4, 10, 11, 12):
        award(user, 10, on(day))

    assert streak_of(api, user.username) == (4, "2024-03-01", "2024-03-04")
    assert_endpoints_match(api, database_oracle())


def test_of_equally_long_runs_the_latest_is_given(api):
    user = UserFactory()
    for day in (11, 12, 13, 1, 2, 3):  # the later run first, so write order cannot decide
        award(user, 10, on(day))

    assert streak_of(api, user.username) == (3, "2024-03-11", "2024-03-13")
    assert_endpoints_match(api, database_oracle())


def test_revoking_an_award_shortens_the_streak(api):
    user = UserFactory()
    achievements = [award(user, 10, on(day)) for day in (1, 2, 3, 4, 5)]
    assert streak_of(api, user.username, days=5) == (5, "2024-03-01", "2024-03-05")

    award_revoke(user=user, achievement=achievements[-1])

    assert streak_of(api, user.username, days=5) is None
    assert streak_of(api, user.username, days=4) == (4, "2024-03-01", "2024-03-04")
    assert get(api, "", days=5)["streaks"]["results"] == []
    assert_endpoints_match(api, database_oracle())


def test_a_backdated_award_joins_two_runs(api):
    user = UserFactory()
    for day in (1, 2, 4, 5):
        award(user, 10, on(day))
    assert streak_of(api, user.username) == (2, "2024-03-04", "2024-03-05")

    award(user, 10, on(3))

    assert streak_of(api, user.username, days=5) == (5, "2024-03-01", "2024-03-05")
    assert_endpoints_match(api, database_oracle())


def test_streaks_are_ordered_longest_first_then_by_username(api):
    for name, days in (("bee", 3), ("Ant", 3), ("cat", 5), ("ape", 2), ("dog", 1)):
        user = UserFactory(username=name)
        for day in range(1, days + 1):
            award(user, 10, on(day))

    rows = get(api, "streaks/", days=2)["results"]

    assert [(r["username"], r["longest_streak"]) for r in rows] == [
        ("cat", 5),
        ("Ant", 3),
        ("bee", 3),
        ("ape", 2),
    ]
    assert_endpoints_match(api, database_oracle())


def test_the_summary_holds_the_first_page_of_streaks_and_links_the_next(api):
    for n in range(53):
        user = UserFactory(username=f"s{n:02d}")
        award(user, 10, on(1))
        award(user, 10, on(2))

    streaks = get(api, "", days=2)["streaks"]

    assert streaks["count"] == 53
    assert [r["username"] for r in streaks["results"]] == [f"s{n:02d}" for n in range(50)]
    assert streaks["previous"] is None
    rest = api.get(streaks["next"]).json()
    assert rest["count"] == 53
    assert [r["username"] for r in rest["results"]] == ["s50", "s51", "s52"]
    oracle = database_oracle()
    assert streaks["results"] == oracle.summary(days=2)["streaks"]["results"]


# Changes that move the answers -------------------------------------------------------------


def test_a_points_change_moves_the_leaders(api):
    alice, bob, carol = (UserFactory(username=n) for n in ("alice", "bob", "carol"))
    common = award(alice, 10, on(1))
    award_grant(user=carol, achievement=common, awarded_at=on(1))
    award(alice, 10, on(2))
    rare = award(bob, 15, on(1))
    assert [u["username"] for u in get(api, "most-points/")["users"]] == ["alice"]

    achievement_update(achievement=rare, points=30)

    assert get(api, "most-points/") == {
        "points": 30,
        "users": [{"username": "bob", "achievements_count": 1, "points": 30}],
    }
    assert get(api, "max-points-gap/")["users"][0]["username"] == "bob"
    assert ranks(api, "points") == [
        ("bob", 1),
        ("alice", 2),
        ("carol", 3),
    ]
    assert_endpoints_match(api, database_oracle())

    achievement_update(achievement=common, points=25)  # alice 35, carol 25, bob 30

    assert [u["username"] for u in get(api, "most-points/")["users"]] == ["alice"]
    assert get(api, "min-points-gap/")["difference"] == 5
    assert [u["username"] for u in get(api, "min-points-gap/")["users"]] == ["carol", "bob"]
    assert_endpoints_match(api, database_oracle())


def test_deleting_a_user_changes_the_answers(api):
    leader, second, _third = (UserFactory(username=n) for n in ("leader", "second", "third"))
    shared = award(leader, 50, on(1))
    award_grant(user=second, achievement=shared, awarded_at=on(1))
    for day in (2, 3, 4):
        award(leader, 10, on(day))
    award(second, 5, on(2))
    assert get(api, "most-points/")["users"][0]["username"] == "leader"
    assert streak_of(api, "leader") == (4, "2024-03-01", "2024-03-04")

    user_delete(user=leader)

    assert get(api, "most-points/") == {
        "points": 55,
        "users": [{"username": "second", "achievements_count": 2, "points": 55}],
    }
    assert get(api, "max-points-gap/")["difference"] == 55
    assert streak_of(api, "leader") is None
    by_code = {r["code"]: r for r in rarity(get(api, "achievements/")["results"])}
    assert by_code[shared.code]["holders"] == 1
    assert by_code[shared.code]["holders_percent"] == 50.0
    assert_endpoints_match(api, database_oracle())


# The leaderboard -----------------------------------------------------------------------------


@pytest.fixture
def tied_board():
    """Points 50, 30, 30, 30, 10, 10, 0, 0: ranks 1, 2, 2, 2, 5, 5, 7, 7."""
    for name, points in (
        ("top", 50),
        ("Bea", 30),
        ("ann", 30),
        ("cid", 30),
        ("Zoe", 10),
        ("dan", 10),
        ("eli", 0),
        ("Fay", 0),
    ):
        user = UserFactory(username=name)
        if points:
            award(user, points, on(1))


def test_leaderboard_ranks_ties_by_standard_competition(api, tied_board):
    assert ranks(api, "points") == [
        ("top", 1),
        ("Bea", 2),
        ("ann", 2),
        ("cid", 2),
        ("Zoe", 5),
        ("dan", 5),
        ("Fay", 7),
        ("eli", 7),
    ]


@pytest.mark.parametrize("by", ["points", "achievements"])
def test_leaderboard_pages_starting_inside_a_tie_keep_the_tie_rank(api, tied_board, by):
    expected = database_oracle().leaderboard(by)

    for limit in (1, 2, 3):
        for offset in range(len(expected) + 1):
            body = get(api, "leaderboard/", by=by, limit=limit, offset=offset)
            assert body["count"] == len(expected)
            assert body["results"] == expected[offset : offset + limit], (limit, offset)

    # A page from the middle of the three-way tie at 30 points.
    if by == "points":
        assert ranks(api, by, limit=3, offset=2) == [("ann", 2), ("cid", 2), ("Zoe", 5)]
