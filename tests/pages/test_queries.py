"""Every page runs a fixed number of queries: as many for 120 users as for 60, and within a
small bound for 5. Nothing is fetched per user, per award or per row shown."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from achievements.services.awards import award_grant
from stats.selectors import achievement_catalog
from tests.factories import AchievementFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

# The most queries each page may run, whatever the number of users, awards or achievements.
QUERY_BOUNDS = {
    # 2 + 2 leaders (+1 each past the names shown), 2 largest gap, 1 smallest gap,
    # 1 streaks (+1 count past a page), 2 leaderboard, 1 latest awards.
    "/": 14,
    "/leaderboard/": 3,
    "/leaderboard/?by=achievements&page=2": 3,
    "/streaks/?days=2": 2,
    "/search/?q=user": 3,
    "/users/{user}/": 6,
    "/users/nobody/": 1,
    "/achievements/": 3,
    "/achievements/?order=points&page=2": 3,
    "/achievements/{code}/": 4,
}


def populate(users: int) -> None:
    """`users` more users, most with a streak of 2 to 4 days, every tenth idle; the catalog
    grows with them."""
    catalog = AchievementFactory.create_batch(max(4, users // 4))
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for n in range(users):
        user = UserFactory(language="ru" if n % 2 else "en")
        awards = 0 if n % 10 == 0 else 2 + n % 3
        for day, achievement in enumerate(catalog[:awards]):
            award_grant(user=user, achievement=achievement, awarded_at=start + timedelta(days=day))


def resolve(path: str) -> str:
    """The path with `{user}` and `{code}` filled in: the user with the most points (whose page
    lists the most awards) and the most held achievement."""
    user = User.objects.order_by("-points", "pk").first()
    code = max(achievement_catalog(), key=lambda a: (a.holders, a.code)).code
    return path.format(user=user.username, code=code)


def queries_for(path: str) -> int:
    path = resolve(path)
    with CaptureQueriesContext(connection) as captured:
        response = Client().get(path)
    assert response.status_code in (200, 404), path
    return len(captured)


@pytest.mark.parametrize("users", [5, 60])
@pytest.mark.parametrize("path", list(QUERY_BOUNDS))
def test_pages_run_a_bounded_number_of_queries(django_assert_max_num_queries, path, users):
    populate(users)
    bound, path = QUERY_BOUNDS[path], resolve(path)

    with django_assert_max_num_queries(bound):
        response = Client(headers={"Accept-Language": "ru"}).get(path)

    assert response.status_code == (404 if "nobody" in path else 200)


def test_pages_run_as_many_queries_for_120_users_as_for_60():
    populate(60)
    at_60 = {path: queries_for(path) for path in QUERY_BOUNDS}

    populate(60)

    assert {path: queries_for(path) for path in QUERY_BOUNDS} == at_60
