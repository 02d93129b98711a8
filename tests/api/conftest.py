"""Clients for the REST API tests: anonymous, an integration token, and accounts without rights."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from achievements.accounts import integration_account_ensure


def token_client(key: str) -> APIClient:
    """An API client that sends `Authorization: Token <key>` on every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


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
