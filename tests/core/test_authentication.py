"""Failed authentication is limited per client: bad API tokens (core.authentication) and bad
admin passwords (django-axes, in the same cache) get 429 with Retry-After past
AUTH_FAILURE_RATE. The test settings turn the limit off; these tests set it themselves."""

import uuid

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from achievements.accounts import integration_account_ensure
from tests.factories import OperatorFactory
from tests.helpers import process_environment, settings_of

USERS = "/api/v1/users/"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"auth-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def failure_rate(monkeypatch, private_cache):
    """`failure_rate("3/min")` limits failed authentications for the API."""

    def set_rate(rate: str | None, **others: str | None) -> None:
        rates = {"anon": None, "user": None, **others, "auth_failure": rate}
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)

    return set_rate


def bad_token_client(address: str = "203.0.113.7", **extra) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **extra)
    client.credentials(HTTP_AUTHORIZATION=f"Token {uuid.uuid4().hex}")
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_bad_tokens_from_one_client_get_429_with_retry_after_past_the_limit(failure_rate):
    failure_rate("3/min")
    client = bad_token_client()
    assert [client.get(USERS).status_code for _ in range(3)] == [401] * 3
    assert_throttled(client.get(USERS))
    assert_throttled(client.post(USERS, {"username": "guess"}))
    assert "detail" in client.get(USERS).json()


@pytest.mark.django_db
def test_a_locked_out_client_is_refused_even_with_a_good_token(failure_rate):
    """Otherwise a right guess would show itself by a different answer."""
    failure_rate("2/min")
    key = integration_account_ensure(name="integration")
    client = bad_token_client()
    for _ in range(3):
        client.get(USERS)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert_throttled(client.get(USERS))
    # Another client with the same good token is not locked out, nor is a request without any.
    good = APIClient(REMOTE_ADDR="203.0.113.8")
    good.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert good.get(USERS).status_code == 200
    assert APIClient(REMOTE_ADDR="203.0.113.7").get(USERS).status_code == 200


@pytest.mark.django_db
def test_good_tokens_are_not_counted_as_failures(failure_rate):
    failure_rate("2/min")
    key = integration_account_ensure(name="integration")
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert [client.get(USERS).status_code for _ in range(10)] == [200] * 10


@pytest.mark.django_db
def test_each_client_address_has_its_own_failure_budget(failure_rate):
    failure_rate("2/min")
    for _ in range(3):
        bad_token_client("203.0.113.7").get(USERS)
    assert_throttled(bad_token_client("203.0.113.7").get(USERS))
    assert bad_token_client("203.0.113.8").get(USERS).status_code == 401


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_buys_no_new_failure_budget_by_default(failure_rate):
    failure_rate("2/min")
    for number in range(3):
        bad_token_client(HTTP_X_FORWARDED_FOR=f"198.51.100.{number}").get(USERS)
    assert_throttled(bad_token_client(HTTP_X_FORWARDED_FOR="198.51.100.99").get(USERS))


@pytest.mark.django_db
def test_without_a_limit_bad_tokens_are_only_401(failure_rate):
    failure_rate(None)
    client = bad_token_client()
    assert {client.get(USERS).status_code for _ in range(30)} == {401}


def test_the_default_limit_is_20_per_minute_for_the_api_and_the_admin():
    values = settings_of(
        process_environment(DEBUG="1"),
        "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['auth_failure']",
        "AXES_ENABLED",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME.total_seconds()",
        "REST_FRAMEWORK['NUM_PROXIES']",
    )
    assert values == ["20/min", True, 21, 60.0, 0]


# The admin: django-axes ------------------------------------------------------------------------


@pytest.fixture
def admin_limit(settings, private_cache):
    """Two bad passwords allowed per window, as AUTH_FAILURE_RATE=2/min sets it."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    AxesProxyHandler.get_implementation(force=True)  # on the fresh cache
    yield
    AxesProxyHandler.get_implementation(force=True)


def log_in(password: str, username: str = "op", address: str = "203.0.113.7"):
    client = Client(REMOTE_ADDR=address)
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.mark.django_db
def test_bad_admin_passwords_get_429_with_retry_after_past_the_limit(admin_limit):
    OperatorFactory(username="op", password="right-password")
    assert [log_in("wrong").status_code for _ in range(2)] == [200, 200]  # the form again
    assert_throttled(log_in("wrong"))
    # Locked out: even the right password is refused until the window ends.
    assert_throttled(log_in("right-password"))


@pytest.mark.django_db
def test_admin_failures_count_per_username_across_addresses(admin_limit):
    OperatorFactory(username="op", password="right-password")
    log_in("wrong", address="203.0.113.1")
    log_in("wrong", address="203.0.113.2")
    assert_throttled(log_in("wrong", address="203.0.113.3"))
    # Another account from a fresh address is not affected.
    OperatorFactory(username="other", password="other-password")
    assert log_in("other-password", username="other", address="203.0.113.9").status_code == 302


@pytest.mark.django_db
def test_admin_failures_count_per_address_across_usernames(admin_limit):
    log_in("wrong", username="a")
    log_in("wrong", username="b")
    assert_throttled(log_in("wrong", username="c"))


@pytest.mark.django_db
def test_a_good_admin_password_within_the_limit_logs_in(admin_limit):
    OperatorFactory(username="op", password="right-password")
    log_in("wrong")
    assert log_in("right-password").status_code == 302


@pytest.mark.django_db
def test_the_admin_lockout_says_when_to_retry_in_the_operators_language(admin_limit):
    for _ in range(2):
        log_in("wrong")
    client = Client(REMOTE_ADDR="203.0.113.7", headers={"Accept-Language": "ru"})
    response = client.post(LOGIN, {"username": "op", "password": "wrong"})
    assert_throttled(response)
    assert f"Повторите через {response['Retry-After']} с." in response.content.decode()  # noqa: RUF001
