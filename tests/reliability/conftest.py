"""Fixtures for the reliability tests: API clients and the skip-or-fail rule for e2e tests."""

import os

import pytest
from rest_framework.test import APIClient

from achievements.accounts import integration_account_ensure


def skip_or_fail(reason: str) -> None:
    """Skip here; in CI (env CI set), where the test must run, fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this test must run)")
    pytest.skip(reason)


def token_client(key: str) -> APIClient:
    """An API client that sends `Authorization: Token <key>` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def integration_token(db) -> str:
    """The token of an integration account made the way `create_api_token` makes it."""
    return integration_account_ensure(name="integration")
