"""Fixtures shared by every test package. Add new ones here when two packages need them."""

import os
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from achievements.accounts import integration_account_ensure
from achievements.services import awards as awards_services
from tests.factories import AchievementFactory, OperatorFactory, UserFactory
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, skip_or_fail, token_client


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


@pytest.fixture
def anonymous(db):
    """A client with no credentials at all."""
    return APIClient()


@pytest.fixture
def integration_token(db) -> str:
    """The token of an integration account made the way `create_api_token` makes it."""
    return integration_account_ensure(name="integration")


@pytest.fixture
def integration_account(integration_token):
    return Token.objects.select_related("user").get(key=integration_token).user


@pytest.fixture
def api(integration_token) -> APIClient:
    """A client authenticated as the integration account: allowed every write."""
    return token_client(integration_token)


@pytest.fixture
def unprivileged(db) -> APIClient:
    """A client with a valid token for an account that holds no model permission."""
    account = get_user_model().objects.create_user(username="reader", password=None)
    return token_client(Token.objects.create(user=account).key)


@pytest.fixture
def count_queries(db):
    """`count_queries(fn)`: how many SQL queries calling `fn()` runs."""

    def count(fn) -> int:
        with CaptureQueriesContext(connection) as queries:
            fn()
        return len(queries)

    return count


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, driven by Playwright), one per test module. Without it the
    test skips locally and fails in CI."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (requirements-dev.txt)")
    if not CHROMIUM.is_file():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # around it are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
