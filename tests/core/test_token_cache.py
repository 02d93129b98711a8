"""The token → account → permissions cache (core.authentication): an authenticated request
reads no auth table once its token is cached, and every change to the token, the account, its
permissions or its groups takes effect on the very next request, in a per-process cache and in
Redis alike."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from achievements.models import Award
from core import authentication
from tests.factories import AchievementFactory, UserFactory
from tests.helpers import token_client

AUTH_TABLES = ("authtoken_token", "auth_permission", "auth_user", "auth_group")
FAILURE_RATE = "3/min"


@pytest.fixture(params=["locmem", "redis"])
def token_cache(request, settings, monkeypatch):
    """A private cache of each kind, with the token cache on and failed authentications
    limited, as in production: the client's failures and the token's cached account are then
    read together (one round trip to Redis)."""
    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {"anon": None, "user": None, "auth_failure": FAILURE_RATE},
    )
    if request.param == "locmem":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"tokens-{uuid.uuid4().hex}",
            }
        }
    else:
        redis = pytest.importorskip("redis")
        url = "redis://127.0.0.1:6379/5"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            pytest.skip("no Redis at 127.0.0.1:6379")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": f"tokens-{uuid.uuid4().hex}",
            }
        }
    settings.AUTH_TOKEN_CACHE_SECONDS = 30
    return request.param


def cached_from_now_on(client, token_key: str) -> None:
    """Let the setup's changes age out of the cache (they keep the token uncached for
    AUTH_TOKEN_CACHE_SECONDS), then show that the client's next requests read no auth table."""
    cache.delete(authentication._cache_key(token_key))
    client.get("/api/v1/users/p1/")
    assert auth_statements(lambda: client.get("/api/v1/users/p1/")) == []


@pytest.fixture
def writer(db):
    """An account allowed to add awards, with its token and a client sending it."""
    account = get_user_model().objects.create_user(username="writer", password=None)
    account.user_permissions.add(Permission.objects.get(codename="add_award"))
    token = Token.objects.create(user=account)
    return account, token, token_client(token.key)


def grant_status(client, username: str, code: str) -> int:
    return client.post(f"/api/v1/users/{username}/achievements/", {"achievement": code}).status_code


def auth_statements(fn) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return [q["sql"] for q in queries if any(table in q["sql"] for table in AUTH_TABLES)]


def test_a_cached_token_costs_no_auth_statement(token_cache, writer, db):
    _, token, client = writer
    UserFactory(username="p1")
    first, second = AchievementFactory(), AchievementFactory()
    cache.delete(authentication._cache_key(token.key))
    assert auth_statements(lambda: grant_status(client, "p1", first.code)) != []
    statuses = []
    assert auth_statements(lambda: statuses.append(grant_status(client, "p1", second.code))) == []
    assert statuses == [201]


def test_a_revoked_permission_takes_effect_at_once(token_cache, writer, db):
    account, token, client = writer
    UserFactory(username="p1")
    entries = [AchievementFactory() for _ in range(3)]
    cached_from_now_on(client, token.key)
    assert grant_status(client, "p1", entries[0].code) == 201
    account.user_permissions.remove(Permission.objects.get(codename="add_award"))
    assert grant_status(client, "p1", entries[1].code) == 403
    account.user_permissions.add(Permission.objects.get(codename="add_award"))
    assert grant_status(client, "p1", entries[1].code) == 201
    cached_from_now_on(client, token.key)
    account.user_permissions.clear()
    assert grant_status(client, "p1", entries[2].code) == 403


def test_group_permissions_and_memberships_take_effect_at_once(token_cache, db):
    account = get_user_model().objects.create_user(username="member", password=None)
    key = Token.objects.create(user=account).key
    client = token_client(key)
    group = Group.objects.create(name="granters")
    add_award = Permission.objects.get(codename="add_award")
    UserFactory(username="p1")
    entries = [AchievementFactory() for _ in range(6)]
    cached_from_now_on(client, key)
    assert grant_status(client, "p1", entries[0].code) == 403
    account.groups.add(group)
    assert grant_status(client, "p1", entries[0].code) == 403
    cached_from_now_on(client, key)
    group.permissions.add(add_award)
    assert grant_status(client, "p1", entries[0].code) == 201
    cached_from_now_on(client, key)
    add_award.group_set.remove(group)
    assert grant_status(client, "p1", entries[1].code) == 403
    group.permissions.add(add_award)
    assert grant_status(client, "p1", entries[1].code) == 201
    cached_from_now_on(client, key)
    group.user_set.remove(account)
    assert grant_status(client, "p1", entries[2].code) == 403
    account.groups.add(group)
    assert grant_status(client, "p1", entries[2].code) == 201
    cached_from_now_on(client, key)
    group.delete()
    assert grant_status(client, "p1", entries[3].code) == 403


def test_a_deleted_token_or_deactivated_account_is_refused_at_once(token_cache, writer, db):
    account, token, client = writer
    UserFactory(username="p1")
    entries = [AchievementFactory() for _ in range(3)]
    cached_from_now_on(client, token.key)
    assert grant_status(client, "p1", entries[0].code) == 201
    account.is_active = False
    account.save()
    assert grant_status(client, "p1", entries[1].code) == 401
    account.is_active = True
    account.save()
    assert grant_status(client, "p1", entries[1].code) == 201
    cached_from_now_on(client, token.key)
    token.delete()
    assert grant_status(client, "p1", entries[2].code) == 401
    assert Token.objects.filter(user=account).count() == 0


def test_a_superuser_flag_change_takes_effect_at_once(token_cache, db):
    account = get_user_model().objects.create_user(username="boss", password=None)
    key = Token.objects.create(user=account).key
    client = token_client(key)
    UserFactory(username="p1")
    entry = AchievementFactory()
    cached_from_now_on(client, key)
    assert grant_status(client, "p1", entry.code) == 403
    account.is_superuser = True
    account.save()
    assert grant_status(client, "p1", entry.code) == 201


def test_an_account_read_before_a_change_is_not_cached_after_it(token_cache, writer, db):
    """A request that read the account before a change committed must not cache it after."""
    account, token, client = writer
    cached_from_now_on(client, token.key)
    stale = Token.objects.select_related("user").get(key=token.key)
    stale.user.get_all_permissions()
    account.user_permissions.clear()  # marks the entry changed
    authentication._remember(token.key, stale)  # the slow request's late write
    UserFactory(username="p1")
    assert grant_status(client, "p1", AchievementFactory().code) == 403


def test_the_cached_account_has_no_password_hash_and_saves_safely(token_cache, writer, db):
    account, token, client = writer
    account.set_password("s3cret-Passw0rd")
    account.save()
    UserFactory(username="p1")
    cached_from_now_on(client, token.key)
    entry = cache.get(authentication._cache_key(token.key))
    assert isinstance(entry, dict) and "password" not in entry["user"]
    assert token.key not in str(authentication._cache_key(token.key))
    user, _ = authentication.LimitedTokenAuthentication().authenticate_credentials(token.key)
    user.save()  # only the loaded fields are written: the password stays
    account.refresh_from_db()
    assert account.check_password("s3cret-Passw0rd")
    assert user.password == account.password  # deferred, read on access


def test_the_cache_is_off_without_a_shared_cache(settings, writer, db):
    settings.AUTH_TOKEN_CACHE_SECONDS = 0
    _, _, client = writer
    UserFactory(username="p1")
    assert auth_statements(lambda: grant_status(client, "p1", AchievementFactory().code)) != []
    assert auth_statements(lambda: grant_status(client, "p1", AchievementFactory().code)) != []


def test_adding_permissions_already_held_keeps_the_token_cached(token_cache, writer, db):
    """`create_api_token` re-adds an integration account's permissions on every call."""
    account, token, client = writer
    UserFactory(username="p1")
    cached_from_now_on(client, token.key)
    account.user_permissions.add(Permission.objects.get(codename="add_award"))
    assert auth_statements(lambda: client.get("/api/v1/users/p1/")) == []


def test_a_locked_out_client_is_refused_even_with_a_cached_good_token(token_cache, writer, db):
    """The lockout is read with the cached account, and still decides first: a right guess
    shows nothing, even for a token some other request has cached."""
    _, token, client = writer
    UserFactory(username="p1")
    first, second = AchievementFactory(), AchievementFactory()
    cached_from_now_on(client, token.key)
    assert grant_status(client, "p1", first.code) == 201
    guesser = APIClient()  # the same address as `client`
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert [guesser.get("/api/v1/users/p1/").status_code for _ in range(4)] == [401] * 3 + [429]
    response = client.post("/api/v1/users/p1/achievements/", {"achievement": second.code})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not Award.objects.filter(achievement=second).exists()
    # Another address with the same token is served from the cache.
    other = APIClient(REMOTE_ADDR="203.0.113.9")
    other.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    statuses = []
    post = lambda: statuses.append(  # noqa: E731
        other.post("/api/v1/users/p1/achievements/", {"achievement": second.code}).status_code
    )
    assert auth_statements(post) == []
    assert statuses == [201]


def test_without_a_failure_limit_the_token_is_still_cached(token_cache, writer, monkeypatch, db):
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": None, "user": None, "auth_failure": None}
    )
    _, token, client = writer
    UserFactory(username="p1")
    cached_from_now_on(client, token.key)
    statuses = []
    post = lambda: statuses.append(grant_status(client, "p1", AchievementFactory().code))  # noqa: E731
    assert auth_statements(post) == []
    assert statuses == [201]
