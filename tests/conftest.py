"""Fixtures shared by every test package. Add new ones here when two packages need them."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from achievements.services import awards as awards_services
from tests.factories import AchievementFactory, OperatorFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def achievement(db):
    return AchievementFactory()


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def grant(db):
    """`grant(user, achievement, days_ago=0, at=None)`: award through the service, so the
    user's figures stay exact. `at` (an aware datetime) wins over `days_ago`. Returns
    (award, created) like `award_grant`."""

    def grant(user, achievement, days_ago: int = 0, at: datetime | None = None, by=None):
        if at is None:
            at = timezone.now() - timedelta(days=days_ago)
        return awards_services.award_grant(user=user, achievement=achievement, awarded_at=at, by=by)

    return grant
