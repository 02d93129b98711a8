"""Period leaderboards, `around`, and streaks in each user's zone, read through the API, equal
the brute-force oracle after every kind of write: backdated grants across period boundaries and
DST changes, revocations, points changes, zone changes and deletions."""

import random
import threading
from datetime import UTC, date, datetime, timedelta
from time import monotonic
from zoneinfo import ZoneInfo

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from rest_framework.test import APIClient

from achievements.models import Achievement, PeriodFigure
from achievements.queries import figures_mismatches, period_figures_mismatches
from achievements.services.awards import award_grant, award_revoke
from achievements.services.catalog import achievement_update
from achievements.services.figures import period_figures_rebuild
from stats import selectors
from tests.factories import AchievementFactory, AwardFactory, UserFactory
from tests.stats.oracle import AwardRow, Oracle
from users.services import user_delete, user_update

pytestmark = pytest.mark.django_db

BOARD = "/api/v1/stats/leaderboard/"
PERIODS = ("all", "day", "week", "month", "year")
ZONES = ("UTC", "America/New_York", "Asia/Kathmandu", "Europe/Moscow", "Pacific/Auckland")
# Moments near period boundaries: a year's end, New York's DST start (Sunday 10 March 2024), a
# month's end on a Sunday that is also Europe's DST start, and a Monday's midnight.
ANCHORS = (
    datetime(2023, 12, 31, 23, 0, tzinfo=UTC),
    datetime(2024, 3, 10, 6, 30, tzinfo=UTC),
    datetime(2024, 3, 31, 22, 0, tzinfo=UTC),
    datetime(2024, 4, 1, 0, 0, tzinfo=UTC),
)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def time_zone(settings):
    """`time_zone(name)` switches the service's TIME_ZONE for this test."""

    def switch(name: str) -> None:
        settings.TIME_ZONE = name
        timezone.get_default_timezone.cache_clear()

    yield switch
    timezone.get_default_timezone.cache_clear()


def get(api, **params) -> dict:
    response = api.get(BOARD, params)
    assert response.status_code == 200, response.content
    return response.json()


def every_page(api, limit: int, **params) -> list[dict]:
    body = get(api, limit=limit, **params)
    count, results, url = body["count"], list(body["results"]), body["next"]
    while url:
        body = api.get(url).json()
        assert body["count"] == count
        results += body["results"]
        url = body["next"]
    assert len(results) == count
    return results


class World:
    """Users in several zones and awards near period boundaries, written through the services,
    with the raw facts kept on the side for the oracle."""

    def __init__(self, seed: int, users: int = 14, achievements: int = 10):
        self.rng = random.Random(seed)
        self.zones = {}
        self.users = {}
        for n in range(users):
            zone = self.rng.choice(ZONES)
            user = UserFactory(username=f"u{n:02d}" if n % 3 else f"U{n}", time_zone=zone)
            self.users[user.username], self.zones[user.username] = user, zone
        self.catalog = {a.code: a for a in AchievementFactory.create_batch(achievements, points=10)}
        for code in self.catalog:
            self.points(code)
        self.held: dict[tuple[str, str], datetime] = {}

    def moment(self) -> datetime:
        return self.rng.choice(ANCHORS) + timedelta(minutes=self.rng.randint(-2 * 1440, 2 * 1440))

    def grant(self, name=None, code=None) -> None:
        name = name or self.rng.choice(sorted(self.users))
        code = code or self.rng.choice(sorted(self.catalog))
        at = self.moment()
        _award, created = award_grant(
            user=self.users[name], achievement=self.catalog[code], awarded_at=at
        )
        assert created is ((name, code) not in self.held)
        self.held.setdefault((name, code), at)

    def revoke(self) -> None:
        name, code = self.rng.choice(sorted(self.held))
        award_revoke(user=self.users[name], achievement=self.catalog[code])
        del self.held[(name, code)]

    def points(self, code=None) -> None:
        code = code or self.rng.choice(sorted(self.catalog))
        self.catalog[code] = achievement_update(
            achievement=self.catalog[code], points=self.rng.choice([1, 5, 10, 15, 40])
        )

    def zone(self) -> None:
        name = self.rng.choice(sorted(self.users))
        self.zones[name] = self.rng.choice(ZONES)
        user_update(user=self.users[name], time_zone=self.zones[name])

    def delete(self) -> None:
        name = self.rng.choice(sorted(self.users))
        user_delete(user=self.users.pop(name))
        del self.zones[name]
        self.held = {k: at for k, at in self.held.items() if k[0] != name}

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.55 or not self.held:
            self.grant()
        elif roll < 0.75:
            self.revoke()
        elif roll < 0.87:
            self.points()
        elif roll < 0.97:
            self.zone()
        else:
            self.delete()

    def oracle(self) -> Oracle:
        rows = [
            AwardRow(name, code, at, self.catalog[code].points)
            for (name, code), at in self.held.items()
        ]
        return Oracle(
            self.users,
            {code: a.points for code, a in self.catalog.items()},
            rows,
            timezone.get_default_timezone(),
            {name: ZoneInfo(zone) for name, zone in self.zones.items()},
        )


def days_to_ask(oracle: Oracle) -> list[date]:
    """Days of awards in the service zone and their neighbours, so boundaries get asked."""
    local = {a.awarded_at.astimezone(oracle.zone).date() for a in oracle.awards}
    return sorted({d + timedelta(days=k) for d in local for k in (-1, 0, 1)})


def assert_boards_match(api, oracle: Oracle, limit: int = 4, every_day: bool = True) -> None:
    days = days_to_ask(oracle)
    if not every_day:
        days = days[:: max(1, len(days) // 8)]
    for by in ("points", "achievements"):
        for period in PERIODS:
            for day in days if period != "all" else days[:1]:
                params = {"by": by, "period": period, "date": day.isoformat()}
                assert every_page(api, limit, **params) == oracle.period_board(by, period, day)
            for name in oracle.usernames[::3]:
                day = days[len(days) // 2]
                params = {"by": by, "period": period, "date": day.isoformat()}
                body = get(api, around=name, limit=5, **params)
                results, rank = oracle.around(by, period, day, name, 5)
                assert (body["results"], body["rank"]) == (results, rank)
    assert every_page(api, 50, period="week") == oracle.period_board(
        "points", "week", timezone.localdate()
    )
    response = api.get("/api/v1/stats/streaks/", {"days": 2, "limit": 1000})
    assert response.json()["results"] == oracle.streaks(2)
    assert figures_mismatches() == []
    assert period_figures_mismatches() == []


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kathmandu"])
def test_period_boards_and_streaks_equal_the_oracle_after_random_writes(api, time_zone, zone):
    time_zone(zone)
    world = World(seed=hash(zone) % 1000)
    for _ in range(40):
        world.grant()
    assert_boards_match(api, world.oracle())
    for round_ in range(3):
        for _ in range(25):
            world.step()
        assert_boards_match(api, world.oracle(), every_day=round_ == 2)


# Named cases ---------------------------------------------------------------------------------


def test_weeks_start_on_monday_and_periods_count_only_their_awards(api, time_zone):
    time_zone("UTC")
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")
    five, seven = AchievementFactory(points=5), AchievementFactory(points=7)
    # Sunday 31 March and Monday 1 April 2024: other weeks, other months, one year.
    award_grant(user=ann, achievement=five, awarded_at=datetime(2024, 3, 31, 23, 59, tzinfo=UTC))
    award_grant(user=bob, achievement=seven, awarded_at=datetime(2024, 4, 1, 0, 0, tzinfo=UTC))

    def board(period, day):
        rows = get(api, period=period, date=day)["results"]
        return [(r["username"], r["points"], r["rank"]) for r in rows]

    assert board("week", "2024-03-25") == [("ann", 5, 1)]
    assert board("week", "2024-04-07") == [("bob", 7, 1)]
    assert board("month", "2024-03-01") == [("ann", 5, 1)]
    assert board("year", "2024-06-30") == [("bob", 7, 1), ("ann", 5, 2)]
    assert board("day", "2024-03-30") == []


def test_period_days_are_the_services_not_the_users(api, time_zone):
    time_zone("Europe/Moscow")
    ann = UserFactory(username="ann", time_zone="America/New_York")
    # 22:30 UTC on 31 March is 1 April in Moscow, still 31 March in New York.
    award_grant(
        user=ann,
        achievement=AchievementFactory(points=3),
        awarded_at=datetime(2024, 3, 31, 22, 30, tzinfo=UTC),
    )

    assert get(api, period="day", date="2024-04-01")["count"] == 1
    assert get(api, period="day", date="2024-03-31")["count"] == 0
    ann.refresh_from_db()
    assert ann.streak_start == date(2024, 3, 31)


def test_a_points_change_moves_every_period_it_touches(api, time_zone):
    time_zone("UTC")
    ann = UserFactory(username="ann")
    old, other = AchievementFactory(points=5), AchievementFactory(points=1)
    award_grant(user=ann, achievement=old, awarded_at=datetime(2024, 3, 1, tzinfo=UTC))
    award_grant(user=ann, achievement=other, awarded_at=datetime(2024, 3, 1, tzinfo=UTC))

    achievement_update(achievement=old, points=50)

    for period in PERIODS[1:]:
        assert get(api, period=period, date="2024-03-01")["results"][0]["points"] == 51
    assert period_figures_mismatches() == []


def test_the_default_date_is_today_in_the_services_zone(api, time_zone):
    time_zone("Asia/Kathmandu")
    ann = UserFactory(username="ann")
    award_grant(user=ann, achievement=AchievementFactory(points=2))

    assert [r["username"] for r in get(api, period="day")["results"]] == ["ann"]
    assert get(api, period="day", date=timezone.localdate().isoformat())["count"] == 1


def test_a_deleted_user_leaves_every_period_board(api, time_zone):
    time_zone("UTC")
    ann = UserFactory(username="ann")
    award_grant(user=ann, achievement=AchievementFactory(points=2))

    user_delete(user=ann)

    assert not PeriodFigure.objects.exists()
    assert get(api, period="year")["results"] == []


def test_period_rows_written_around_the_services_are_caught_and_rebuilt():
    ann = UserFactory(username="ann")
    AwardFactory(
        user=ann,
        achievement=AchievementFactory(points=4),
        awarded_at=datetime(2024, 3, 1, tzinfo=UTC),
    )

    wrong = period_figures_mismatches()
    assert {(m.kind, m.stored, m.expected["points"]) for m in wrong} == {
        (kind, None, 4) for kind in ("day", "week", "month", "year")
    }
    period_figures_rebuild()
    assert period_figures_mismatches() == []
    assert PeriodFigure.objects.get(kind="month").start == date(2024, 3, 1)


# around --------------------------------------------------------------------------------------


@pytest.fixture
def ladder(db):
    """Ten users on 100, 90, 90, 70, ... points, all awarded today."""
    catalog = Achievement.objects
    users = []
    for n, points in enumerate([100, 90, 90, 70, 60, 50, 40, 30, 20, 10]):
        user = UserFactory(username=f"p{n}")
        award_grant(user=user, achievement=AchievementFactory(points=points))
        users.append(user)
    assert catalog.count() == 10
    return users


@pytest.mark.parametrize("period", PERIODS)
def test_around_puts_the_user_in_the_middle_with_their_rank(api, ladder, period):
    body = get(api, around="P5", limit=5, period=period)

    assert [r["username"] for r in body["results"]] == ["p3", "p4", "p5", "p6", "p7"]
    assert body["rank"] == 6
    assert body["count"] == 10
    following = api.get(body["next"]).json()
    assert [r["username"] for r in following["results"]] == ["p8", "p9"]
    preceding = api.get(body["previous"]).json()
    assert [(r["username"], r["rank"]) for r in preceding["results"]] == [
        ("p0", 1),
        ("p1", 2),
        ("p2", 2),
    ]


def test_around_has_fewer_rows_at_the_ends(api, ladder):
    top = get(api, around="p0", limit=5)
    bottom = get(api, around="p9", limit=4)

    assert [r["username"] for r in top["results"]] == ["p0", "p1", "p2"]
    assert top["previous"] is None and top["rank"] == 1
    assert [r["username"] for r in bottom["results"]] == ["p8", "p9"]
    assert bottom["next"] is None and bottom["rank"] == 10


def test_around_a_user_in_a_tie_gives_the_shared_rank(api, ladder):
    body = get(api, around="p2", limit=3)

    assert [(r["username"], r["rank"]) for r in body["results"]] == [
        ("p1", 2),
        ("p2", 2),
        ("p3", 4),
    ]
    assert body["rank"] == 2


def test_around_a_user_off_the_periods_board_is_empty_with_no_rank(api, ladder):
    UserFactory(username="idle")

    body = get(api, around="idle", period="day")

    assert body == {"count": 0, "next": None, "previous": None, "rank": None, "results": []}
    assert get(api, around="idle")["rank"] == 11


def test_around_an_unknown_user_is_a_404(api, ladder):
    response = api.get(BOARD, {"around": "nobody"})

    assert response.status_code == 404


def test_the_around_query_reads_a_fixed_number_of_rows(api, ladder, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        get(api, around="p5", period="week")
    with django_assert_max_num_queries(3):
        get(api, period="month")


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "decade"}, "period"),
        ({"period": ""}, "period"),
        ({"period": "DAY"}, "period"),
        ({"period": "day", "date": "2024-13-01"}, "date"),
        ({"period": "day", "date": "2024-02-30"}, "date"),
        ({"period": "day", "date": "20240101"}, "date"),
        ({"period": "day", "date": "2024-1-01"}, "date"),
        ({"period": "day", "date": "\u0661\u0669\u0667\u0660-\u0660\u0661-\u0660\u0661"}, "date"),
        ({"period": "day", "date": "1969-12-31"}, "date"),
        ({"period": "day", "date": "0000-01-01"}, "date"),
        ({"period": "day", "date": ""}, "date"),
        ({"period": "week", "date": "2024-01-01T00:00"}, "date"),
        ({"around": "not a name"}, "around"),
        ({"around": ""}, "around"),
        ({"around": "x" * 151}, "around"),
        ({"around": "a\x00b"}, "around"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api, params, field):
    response = api.get(BOARD, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_last_representable_day_is_a_board_not_an_error(api):
    for period in PERIODS:
        assert get(api, period=period, date="9999-12-31")["results"] == []


# Several writers at once (PostgreSQL) --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_every_period_board_exact(api, time_zone):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: real concurrency needs PostgreSQL")
    time_zone("America/New_York")
    world = World(seed=7, users=12, achievements=8)
    lock = threading.Lock()
    errors = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(25):
                name = rng.choice(sorted(world.users))
                code = rng.choice(sorted(world.catalog))
                at = rng.choice(ANCHORS) + timedelta(minutes=rng.randint(-2880, 2880))
                roll = rng.random()
                if roll < 0.6:
                    _a, created = award_grant(
                        user=world.users[name], achievement=world.catalog[code], awarded_at=at
                    )
                    if created:
                        with lock:
                            world.held[(name, code)] = at
                elif roll < 0.85:
                    try:
                        award_revoke(user=world.users[name], achievement=world.catalog[code])
                        with lock:
                            del world.held[(name, code)]
                    except Exception as exc:  # not held: another thread got there first
                        if type(exc).__name__ != "DoesNotExist":
                            raise
                elif roll < 0.95:
                    points = rng.choice([1, 5, 10, 40])
                    with lock:
                        updated = achievement_update(achievement=world.catalog[code], points=points)
                        world.catalog[code] = updated
                else:
                    zone = rng.choice(ZONES)
                    with lock:
                        user_update(user=world.users[name], time_zone=zone)
                        world.zones[name] = zone
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # The threads' records of awards match the table (every grant and revocation counted once).
    assert_boards_match(api, world.oracle(), every_day=False)


# Keyset cursor (`after`) ---------------------------------------------------------------------


def walk_by_cursor(api, limit: int, **params) -> list[dict]:
    """Every page, each fetched by the `after` cursor of the `next` link before it."""
    body = get(api, limit=limit, **params)
    results, url = list(body["results"]), body["next"]
    while url:
        assert "after=" in url and "offset=" not in url
        body = api.get(url).json()
        results += body["results"]
        url = body["next"]
    return results


def tied_world(seed: int, steps: int) -> World:
    """A world of 16 users over 5 achievements (many ties), 70 grants, then `steps` more."""
    world = World(seed=seed, users=16, achievements=5)
    for _ in range(70):
        world.grant()
    for _ in range(steps):
        world.step()
    return world


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
def test_walking_every_board_by_cursor_gives_the_oracles_ranking(api, time_zone, zone):
    time_zone(zone)
    world = tied_world(seed=31, steps=20)
    oracle = world.oracle()
    days = days_to_ask(oracle)
    for by in ("points", "achievements"):
        for period in PERIODS:
            for day in days[:: max(1, len(days) // 5)] if period != "all" else days[:1]:
                params = {"by": by, "period": period, "date": day.isoformat()}
                expected = oracle.period_board(by, period, day)
                for limit in (1, 3):
                    assert walk_by_cursor(api, limit, **params) == expected


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
def test_a_page_at_any_offset_of_any_board_gives_the_oracles_rows_and_count(api, time_zone, zone):
    time_zone(zone)
    world = tied_world(seed=37, steps=20)
    oracle = world.oracle()
    days = days_to_ask(oracle)
    for by in ("points", "achievements"):
        for period in PERIODS:
            for day in days[:: max(1, len(days) // 4)] if period != "all" else days[:1]:
                params = {"by": by, "period": period, "date": day.isoformat()}
                expected = oracle.period_board(by, period, day)
                for offset in range(len(expected) + 2):
                    body = get(api, offset=offset, limit=3, **params)
                    assert body["count"] == len(expected)
                    assert body["results"] == expected[offset : offset + 3]


@pytest.mark.parametrize("middle", [-1, 10**9], ids=["count-above", "count-below"])
def test_a_cursor_or_around_rank_is_exact_counted_from_either_end(api, time_zone, middle):
    """The all-time board counts a rank from the end its (possibly stale) middle-figure hint
    says is nearer; pinned to each end here, both give the oracle's ranks and counts."""
    time_zone("UTC")
    world = tied_world(seed=41, steps=10)
    oracle = world.oracle()
    day = days_to_ask(oracle)[0]
    for figure in selectors.LEADERBOARD_FIGURES.values():
        selectors._middle_hints[figure] = (monotonic(), middle)
    try:
        for by in ("points", "achievements"):
            params = {"by": by, "period": "all", "date": day.isoformat()}
            expected = oracle.period_board(by, "all", day)
            for limit in (1, 3):
                assert walk_by_cursor(api, limit, **params) == expected
            for name in oracle.usernames:
                body = get(api, around=name, limit=3, **params)
                assert (body["results"], body["rank"]) == oracle.around(by, "all", day, name, 3)
                assert body["count"] == len(expected)
    finally:
        selectors._middle_hints.clear()


def test_a_cursor_continues_from_any_place_with_ranks_and_count(api, ladder):
    board = get(api, limit=10)["results"]
    for at, row in enumerate(board):
        body = get(api, after=f"{row['points']}.{row['username']}", limit=3)
        assert body["results"] == board[at + 1 : at + 4]
        assert body["count"] == 10
        assert (body["next"] is None) == (at + 4 >= 10)
    # A place between rows (the key need not be a user on the board): what follows it.
    body = get(api, after="90.p10", limit=2)
    assert [(r["username"], r["rank"]) for r in body["results"]] == [("p2", 2), ("p3", 4)]
    assert get(api, after="0.a")["results"] == []
    assert get(api, after="1000.a", limit=1)["results"] == board[:1]


def test_a_cursor_page_links_back_by_offset(api, ladder):
    body = get(api, after="70.p3", limit=2)

    assert [r["username"] for r in body["results"]] == ["p4", "p5"]
    previous = api.get(body["previous"]).json()
    assert [r["username"] for r in previous["results"]] == ["p2", "p3"]


def test_a_write_between_pages_shows_in_the_next_page(api, ladder):
    first = get(api, limit=3)
    # p9 (10 points) jumps ahead of the cursor (p2, 90), p1 (90) falls behind it.
    award_grant(user=ladder[9], achievement=AchievementFactory(points=500))
    award_revoke(
        user=ladder[1], achievement=Achievement.objects.get(points=90, awards__user=ladder[1])
    )

    body = api.get(first["next"]).json()

    # The rows after (90, p2) in the ranking as it stands now, ranked as it stands now.
    assert [(r["username"], r["rank"]) for r in body["results"]] == [
        ("p3", 4),
        ("p4", 5),
        ("p5", 6),
    ]
    assert body["count"] == 10


def test_a_cursor_page_reads_a_fixed_number_of_rows(api, ladder, django_assert_max_num_queries):
    for period in PERIODS:
        with django_assert_max_num_queries(2):
            get(api, after="60.p4", period=period, limit=2)


@pytest.mark.parametrize(
    "after",
    [
        "",
        "12",
        "12.",
        ".p1",
        "p1.12",
        "+12.p1",
        "1 2.p1",
        "12.not a name",
        "12.p1\x00",
        "\u0661\u0662.p1",
        "99999999999999999999.p1",
        "9223372036854775808.p1",
        "12." + "x" * 151,
    ],
)
def test_a_malformed_cursor_is_a_400_naming_it(api, after):
    response = api.get(BOARD, {"after": after})

    assert response.status_code == 400
    assert list(response.json()) == ["after"]


def test_a_cursor_with_around_is_a_400(api, ladder):
    response = api.get(BOARD, {"after": "10.p1", "around": "p1"})

    assert response.status_code == 400
    assert list(response.json()) == ["after"]
