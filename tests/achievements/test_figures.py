"""The figures stored on each user (count, points, longest streak) always equal what the awards
say: streak rules, the service's time zone, the consistency check and the rebuild, and a random
workload checked against a brute-force oracle."""

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from achievements.models import Award
from achievements.queries import figures_mismatches
from achievements.services.awards import award_grant, award_grant_many, award_revoke
from achievements.services.catalog import achievement_update
from achievements.services.figures import figures_rebuild
from tests.factories import AchievementFactory, AwardFactory, UserFactory
from users.models import User
from users.services import user_delete, user_update

pytestmark = pytest.mark.django_db


def on(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment on the given day of March 2024, in UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def march(day: int) -> date:
    return date(2024, 3, day)


def streak(user: User) -> tuple[int, date | None, date | None]:
    """The user's stored (longest_streak, streak_start, streak_end), fresh from the database."""
    user.refresh_from_db()
    return user.longest_streak, user.streak_start, user.streak_end


@pytest.fixture
def time_zone(settings):
    """`time_zone(name)` switches the service's TIME_ZONE for this test.

    The default zone is cached by `timezone.get_default_timezone()`; Django's setting_changed
    handler clears that cache too, but the figures' day boundaries depend on it, so be explicit.
    """

    def switch(name: str) -> None:
        settings.TIME_ZONE = name
        timezone.get_default_timezone.cache_clear()
        assert str(timezone.get_default_timezone()) == name

    yield switch
    timezone.get_default_timezone.cache_clear()


@pytest.fixture
def awarder(grant):
    """`award(user, *days)`: one new achievement per day given (`on(...)` moments), through the
    service. Returns the achievements, in order."""

    def award(user, *moments):
        achievements = [AchievementFactory() for _ in moments]
        for achievement, at in zip(achievements, moments, strict=True):
            grant(user, achievement, at=at)
        return achievements

    return award


# Streak rules ---------------------------------------------------------------------------------


def test_a_user_without_awards_has_no_streak(user):
    assert streak(user) == (0, None, None)


def test_a_single_award_is_a_streak_of_one_day(user, awarder):
    awarder(user, on(5))

    assert streak(user) == (1, march(5), march(5))


def test_awards_on_consecutive_days_make_a_streak(user, awarder):
    awarder(user, on(1), on(2), on(3))

    assert streak(user) == (3, march(1), march(3))


def test_two_awards_on_one_day_count_once(user, awarder):
    awarder(user, on(1, 0, 1), on(1, 23, 59), on(2, 9), on(2, 10), on(2, 11))

    assert streak(user) == (2, march(1), march(2))


def test_days_are_calendar_days_not_24_hour_periods(user, awarder):
    awarder(user, on(1, 23, 59), on(2, 0, 1))

    assert streak(user) == (2, march(1), march(2))


def test_a_one_day_gap_breaks_the_run(user, awarder):
    awarder(user, on(1), on(3))

    assert streak(user) == (1, march(3), march(3))


def test_the_longest_run_wins_even_when_it_is_older(user, awarder):
    awarder(user, on(1), on(2), on(3), on(5), on(6), on(10))

    assert streak(user) == (3, march(1), march(3))


def test_of_equally_long_runs_the_latest_wins(user, awarder):
    # Granted latest first, so the answer cannot come from the order of the writes.
    awarder(user, on(11), on(10), on(5), on(4), on(1), on(2))

    assert streak(user) == (2, march(10), march(11))


def test_revoking_the_award_of_the_last_day_shortens_the_streak(user, awarder):
    *_, last = awarder(user, on(1), on(2), on(3))

    award_revoke(user=user, achievement=last)

    assert streak(user) == (2, march(1), march(2))


def test_revoking_a_middle_day_splits_the_run_and_the_latest_half_wins(user, awarder):
    _, middle, _ = awarder(user, on(1), on(2), on(3))

    award_revoke(user=user, achievement=middle)

    assert streak(user) == (1, march(3), march(3))


def test_revoking_one_of_two_awards_on_a_day_keeps_the_day(user, awarder):
    first, _, _ = awarder(user, on(1, 8), on(1, 20), on(2))

    award_revoke(user=user, achievement=first)

    assert streak(user) == (2, march(1), march(2))


def test_a_backdated_award_joins_two_runs(user, awarder):
    awarder(user, on(1), on(2), on(4), on(5))
    assert streak(user) == (2, march(4), march(5))

    awarder(user, on(3))

    assert streak(user) == (5, march(1), march(5))


def test_an_award_already_held_does_not_move_the_streak(user, awarder, grant):
    (achievement,) = awarder(user, on(1))

    grant(user, achievement, at=on(2))

    assert streak(user) == (1, march(1), march(1))


def test_a_streak_belongs_to_its_user_alone(awarder):
    alice, bob = UserFactory(), UserFactory()

    awarder(alice, on(1), on(2))
    awarder(bob, on(3))

    assert streak(alice) == (2, march(1), march(2))
    assert streak(bob) == (1, march(3), march(3))


# The service's time zone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "moments", "expected"),
    [
        # 20:30 and 21:30 UTC on the 10th are 23:30 on the 10th and 00:30 on the 11th in Moscow.
        ("UTC", [on(10, 20, 30), on(10, 21, 30)], (1, march(10), march(10))),
        ("Europe/Moscow", [on(10, 20, 30), on(10, 21, 30)], (2, march(10), march(11))),
        # 22:30 UTC on the 9th and 20:00 UTC on the 10th are both on the 10th in Moscow.
        ("UTC", [on(9, 22, 30), on(10, 20, 0)], (2, march(9), march(10))),
        ("Europe/Moscow", [on(9, 22, 30), on(10, 20, 0)], (1, march(10), march(10))),
        # 22:30 UTC on the 9th and 21:30 UTC on the 10th: two days either way, a day apart.
        ("UTC", [on(9, 22, 30), on(10, 21, 30)], (2, march(9), march(10))),
        ("Europe/Moscow", [on(9, 22, 30), on(10, 21, 30)], (2, march(10), march(11))),
    ],
)
def test_days_are_calendar_days_in_the_users_time_zone(
    time_zone, user, awarder, zone, moments, expected
):
    time_zone("UTC")
    user_update(user=user, time_zone=zone)

    awarder(user, *moments)

    assert streak(user) == expected
    assert figures_mismatches() == []


def test_a_new_user_counts_days_in_the_services_time_zone(time_zone, awarder):
    time_zone("Europe/Moscow")
    user = UserFactory()

    awarder(user, on(10, 20, 30), on(10, 21, 30))

    assert user.time_zone == "Europe/Moscow"
    assert streak(user) == (2, march(10), march(11))


def test_changing_a_users_time_zone_recomputes_their_streak_at_once(time_zone, awarder):
    time_zone("UTC")
    user, other = UserFactory(), UserFactory()
    awarder(user, on(10, 20, 30), on(10, 21, 30))
    awarder(other, on(10, 20, 30), on(10, 21, 30))
    assert streak(user) == (1, march(10), march(10))

    user_update(user=user, time_zone="Europe/Moscow")

    assert streak(user) == (2, march(10), march(11))
    assert streak(other) == (1, march(10), march(10))
    assert figures_mismatches() == []


def test_changing_the_services_time_zone_leaves_existing_users_days_alone(time_zone, awarder):
    time_zone("UTC")
    user = UserFactory()
    awarder(user, on(10, 20, 30), on(10, 21, 30))

    time_zone("Europe/Moscow")

    assert figures_mismatches() == []
    assert streak(user) == (1, march(10), march(10))


def test_a_zone_written_around_the_services_is_caught_and_rebuilt(time_zone, awarder):
    time_zone("UTC")
    user = UserFactory()
    awarder(user, on(10, 20, 30), on(10, 21, 30))

    User.objects.filter(pk=user.pk).update(time_zone="Europe/Moscow")

    assert [m.username for m in figures_mismatches()] == [user.username]
    figures_rebuild()
    assert streak(user) == (2, march(10), march(11))
    assert figures_mismatches() == []


# The check and the rebuild --------------------------------------------------------------------


def test_ordinary_writes_leave_no_mismatch(grant):
    users = UserFactory.create_batch(4)
    achievements = AchievementFactory.create_batch(3, points=10)
    for n, user in enumerate(users):
        for days_ago, achievement in enumerate(achievements[: n + 1]):
            grant(user, achievement, days_ago=days_ago)
    award_revoke(user=users[3], achievement=achievements[1])
    achievement_update(achievement=achievements[0], points=30)
    user_delete(user=users[2])
    UserFactory()  # no awards at all

    assert figures_mismatches() == []
    assert figures_rebuild() == []


@pytest.mark.parametrize(
    ("field", "corrupt"),
    [
        ("points", 999),
        ("achievements_count", 7),
        ("longest_streak", 5),
        ("streak_start", date(2000, 1, 1)),
        ("streak_end", None),
    ],
)
def test_a_figure_corrupted_by_hand_is_named_and_the_rebuild_fixes_it(grant, field, corrupt):
    victim, bystander = UserFactory(username="victim"), UserFactory(username="bystander")
    achievement = AchievementFactory(points=10)
    grant(victim, achievement, at=on(1))
    grant(bystander, achievement, at=on(1))
    victim.refresh_from_db()
    good = getattr(victim, field)
    User.objects.filter(pk=victim.pk).update(**{field: corrupt})

    (mismatch,) = figures_mismatches()

    assert mismatch.username == "victim"
    assert mismatch.stored[field] == corrupt
    assert mismatch.expected[field] == good
    assert mismatch.expected == {
        "achievements_count": 1,
        "points": 10,
        "longest_streak": 1,
        "streak_start": march(1),
        "streak_end": march(1),
    }

    assert [m.username for m in figures_rebuild()] == ["victim"]
    victim.refresh_from_db()
    assert getattr(victim, field) == good
    assert figures_mismatches() == []


def test_figures_of_a_user_without_awards_must_be_zero():
    user = UserFactory(username="idle")
    User.objects.filter(pk=user.pk).update(points=5, longest_streak=1, streak_start=march(1))

    (mismatch,) = figures_mismatches()

    assert mismatch.username == "idle"
    assert mismatch.expected == {
        "achievements_count": 0,
        "points": 0,
        "longest_streak": 0,
        "streak_start": None,
        "streak_end": None,
    }
    figures_rebuild()
    assert streak(user) == (0, None, None)


def test_awards_written_around_the_services_are_caught_and_rebuilt():
    user = UserFactory(username="imported")
    AwardFactory(user=user, achievement=AchievementFactory(points=4), awarded_at=on(1))
    AwardFactory(user=user, achievement=AchievementFactory(points=6), awarded_at=on(2))

    assert [m.username for m in figures_mismatches()] == ["imported"]

    figures_rebuild()
    user.refresh_from_db()
    assert (user.achievements_count, user.points) == (2, 10)
    assert streak(user) == (2, march(1), march(2))


# A random workload against a brute-force oracle ----------------------------------------------


def runs_of(days: list[date]) -> list[tuple[int, date, date]]:
    """(length, first day, last day) of each run of consecutive days in sorted `days`."""
    runs: list[tuple[int, date, date]] = []
    for day in days:
        if runs and day == runs[-1][2] + timedelta(days=1):
            length, first, _ = runs[-1]
            runs[-1] = (length + 1, first, day)
        else:
            runs.append((1, day, day))
    return runs


def award_days(holdings, zone) -> dict[int, list[date]]:
    """Each user's sorted distinct calendar days with an award, in `zone`."""
    days = defaultdict(set)
    for (user_id, _), awarded_at in holdings.items():
        days[user_id].add(awarded_at.astimezone(zone).date())
    return {user_id: sorted(d) for user_id, d in days.items()}


def oracle(holdings, points, zone):
    """Each user's (count, points, longest_streak, streak_start, streak_end), in plain Python.

    `holdings` maps (user_id, achievement_id) to awarded_at; `points` maps achievement ids to
    their points; days are calendar days in `zone`. Users without awards are left out.
    """
    figures = {}
    for user_id, days in award_days(holdings, zone).items():
        held = [a for (u, a) in holdings if u == user_id]
        # The longest run; of equally long ones, the latest.
        longest = max(runs_of(days), key=lambda run: (run[0], run[2]))
        figures[user_id] = (len(held), sum(points[a] for a in held), *longest)
    return figures


def stored_figures():
    return {
        u.pk: (u.achievements_count, u.points, u.longest_streak, u.streak_start, u.streak_end)
        for u in User.objects.all()
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Moscow", "America/New_York"])
def test_random_grants_revocations_and_points_changes_keep_every_figure_exact(time_zone, zone):
    time_zone(zone)
    rng = random.Random(20240301)
    users = UserFactory.create_batch(30)
    catalog = {a.pk: a for a in AchievementFactory.create_batch(15)}
    points = {pk: rng.randint(1, 1000) for pk in catalog}
    for pk, achievement in catalog.items():
        achievement_update(achievement=achievement, points=points[pk])
    holdings: dict[tuple[int, int], datetime] = {}
    # Eight days around a daylight-saving change in New York (10 March 2024): streaks are
    # common, awards share days, and one day is 23 hours long. A few busy users earn most.
    start = datetime(2024, 3, 6, tzinfo=UTC)
    busy = users[:6]

    def check():
        expected = oracle(holdings, points, ZoneInfo(zone))
        assert stored_figures() == {u.pk: expected.get(u.pk, (0, 0, 0, None, None)) for u in users}
        return expected

    for step in range(300):
        roll = rng.random()
        if roll < 0.6 or not holdings:
            user = rng.choice(busy if rng.random() < 0.5 else users)
            achievement = catalog[rng.choice(sorted(catalog))]
            at = start + timedelta(seconds=rng.randrange(8 * 24 * 3600))
            key = (user.pk, achievement.pk)
            award, created = award_grant(user=user, achievement=achievement, awarded_at=at)
            assert created is (key not in holdings)
            holdings.setdefault(key, at)
            assert award.awarded_at == holdings[key]
        elif roll < 0.8:
            user_id, achievement_id = rng.choice(sorted(holdings))
            user = User.objects.get(pk=user_id)
            award_revoke(user=user, achievement=catalog[achievement_id])
            del holdings[(user_id, achievement_id)]
        elif roll < 0.95:
            achievement_id = rng.choice(sorted(catalog))
            points[achievement_id] = rng.randint(1, 1000)
            achievement_update(achievement=catalog[achievement_id], points=points[achievement_id])
        else:
            achievement = catalog[rng.choice(sorted(catalog))]
            chosen = rng.sample(users, 5)
            already = sum((u.pk, achievement.pk) in holdings for u in chosen)
            assert award_grant_many(users=chosen, achievement=achievement) == (5 - already, already)
            for award in Award.objects.filter(achievement=achievement, user__in=chosen):
                holdings.setdefault((award.user_id, achievement.pk), award.awarded_at)
        if step % 50 == 49:
            check()

    expected = check()
    # The workload must exercise the rules, not only agree with the oracle on trivia.
    assert max(f[2] for f in expected.values()) >= 5
    tied = [
        user_id
        for user_id, days in award_days(holdings, ZoneInfo(zone)).items()
        if [run[0] for run in runs_of(days)].count(expected[user_id][2]) > 1
        and expected[user_id][2] > 1
    ]
    assert tied, "some user should have two equally long runs, so the latest one must win"
    assert figures_mismatches() == []
