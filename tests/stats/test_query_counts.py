"""Every stats endpoint runs the same number of queries for 5 users as for 60: the answers come
from indexed per-user figures, never from a query per user or per award."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from achievements.services.awards import award_grant
from tests.factories import AchievementFactory, UserFactory

pytestmark = pytest.mark.django_db

# The most queries each endpoint may run, whatever the number of users, awards or achievements.
QUERY_BOUNDS = {
    "most-achievements/": 2,
    "most-points/": 2,
    "max-points-gap/": 2,
    # One query finds the lowest shared total; without one, a window pass finds the gap.
    "min-points-gap/": 2,
    "streaks/?days=2": 2,
    # The first page with the board's size (the user counter) in one statement. A deeper page
    # finds its first row's key in the figure index (from the nearer end of the all-time board,
    # whose size it reads first), then reads from it.
    "leaderboard/?by=points": 1,
    "leaderboard/?by=achievements&offset=3": 3,
    "leaderboard/?by=points&offset=4": 3,
    "leaderboard/?by=points&period=year&offset=3": 2,
    # The catalog with its holder counters and the user counter, in one statement.
    "achievements/": 1,
    "": 9,
    # Over one page of streakers, the summary counts them: one query more, still bounded.
    "?days=2": 10,
}


def populate(users: int) -> None:
    """`users` more users, most with a streak of 2 to 4 days, every tenth idle; the catalog
    grows with them."""
    catalog = AchievementFactory.create_batch(max(4, users // 4))
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for n in range(users):
        user = UserFactory()
        awards = 0 if n % 10 == 0 else 2 + n % 3
        for day, achievement in enumerate(catalog[:awards]):
            award_grant(user=user, achievement=achievement, awarded_at=start + timedelta(days=day))


def queries_for(path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = APIClient().get(f"/api/v1/stats/{path}")
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("users", [5, 60])
@pytest.mark.parametrize("path", list(QUERY_BOUNDS))
def test_stats_endpoints_run_a_bounded_number_of_queries(
    django_assert_max_num_queries, path, users
):
    populate(users)

    with django_assert_max_num_queries(QUERY_BOUNDS[path]):
        response = APIClient().get(f"/api/v1/stats/{path}")

    assert response.status_code == 200


def test_stats_endpoints_run_as_many_queries_for_120_users_as_for_60():
    populate(60)
    at_60 = {path: queries_for(path) for path in QUERY_BOUNDS}
    assert at_60["?days=2"] == QUERY_BOUNDS["?days=2"]  # over one page of streakers already

    populate(60)

    assert {path: queries_for(path) for path in QUERY_BOUNDS} == at_60


@pytest.mark.parametrize("users", [5, 60])
def test_the_smallest_gap_runs_a_bounded_number_of_queries_when_every_total_differs(
    django_assert_max_num_queries, users
):
    start = datetime(2024, 3, 1, tzinfo=UTC)
    for n in range(users):
        achievement = AchievementFactory(points=3 * n + 1)  # every total different
        award_grant(user=UserFactory(), achievement=achievement, awarded_at=start)

    with django_assert_max_num_queries(QUERY_BOUNDS["min-points-gap/"]):
        response = APIClient().get("/api/v1/stats/min-points-gap/")

    assert response.status_code == 200
    assert response.json()["difference"] == 3
