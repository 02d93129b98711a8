"""Rate limits that hold under bursts and across processes: one atomic counter per client and
window in the shared cache, for the anonymous and per-account API rates and for failed
authentications (bad tokens here, bad admin passwords through django-axes).

DRF's own throttles read a list of timestamps and write it back in two steps, so simultaneous
requests all read the same history and all pass. Here each request is one atomic increment:
with Redis a MULTI of `SET key 0 EX window NX` and `INCR key`; with the other caches `add`,
then `incr` (atomic in the local-memory and memcached backends). The window is fixed and
starts at a client's first request: at most `num_requests` pass in it, however they arrive.
"""

import math
import time
from typing import Any

from axes.helpers import get_cool_off
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django.utils.translation import gettext as _
from rest_framework import throttling


def _redis_client(cache: RedisCache):
    # Django's RedisCache has no atomic "increment or create with expiry"; its `incr` checks
    # EXISTS first, so a key expiring in between would be recreated without any expiry. Its
    # get_client() builds a new redis.Redis on each call (copying every reply callback, about
    # a tenth of a millisecond); one client per connection pool is enough: clients are
    # thread-safe and take their connections from the pool.
    backend = cache._cache
    pool = backend._get_connection_pool(write=True)
    client = getattr(backend, "_shared_client", None)
    if client is None or client.connection_pool is not pool:
        client = backend._shared_client = backend._client(connection_pool=pool)
    return client


def window_hit(key: str, duration: int) -> tuple[int, int]:
    """Count one hit against `key` atomically; return the hits in the current window (this one
    included) and the seconds until that window ends."""
    cache, now = caches["default"], time.time()
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        with _redis_client(cache).pipeline(transaction=True) as pipe:
            pipe.set(full_key, 0, ex=duration, nx=True)
            pipe.incr(full_key)
            pipe.ttl(full_key)
            _, count, ttl = pipe.execute()
        return count, max(ttl, 1)
    cache.add(f"{key}:start", now, duration)
    if cache.add(key, 1, duration):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window ended between add and incr: this hit opens the next one
            cache.add(key, 1, duration)
            count = 1
    return count, _seconds_left(cache, key, duration, now)


def window_count(key: str, duration: int) -> tuple[int, int]:
    """The hits counted against `key` in its current window and the seconds until it ends,
    without counting one."""
    count, seconds_left, _ = window_count_and_get(key, duration, None)
    return count, seconds_left


def window_count_and_get(key: str, duration: int, other: str | None) -> tuple[int, int, Any]:
    """`window_count(key, duration)` and the cached value of `other` (None when it is absent,
    or when `other` is None), read together: with Redis in one round trip. Authentication
    reads a client's failures and its token's cached account this way."""
    cache, now = caches["default"], time.time()
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        with _redis_client(cache).pipeline(transaction=True) as pipe:
            pipe.get(full_key)
            pipe.ttl(full_key)
            if other is not None:
                pipe.get(cache.make_and_validate_key(other))
            count, ttl, *value = pipe.execute()
        value = value[0] if value else None
        if value is not None:
            value = cache._cache._serializer.loads(value)
        return int(count or 0), max(ttl, 1), value
    value = None if other is None else cache.get(other)
    return int(cache.get(key, 0)), _seconds_left(cache, key, duration, now), value


def _seconds_left(cache, key: str, duration: int, now: float) -> int:
    started = cache.get(f"{key}:start", now)
    return max(1, math.ceil(started + duration - now))


# What `AuthFailureThrottle.locked_out_and_get` gives for a value it did not read.
NOT_READ = object()


class AtomicWindowMixin:
    """Replaces SimpleRateThrottle's two-step history with `window_hit`; the rate still comes
    from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope] (absent or empty: no limit)."""

    # Not DRF's "throttle_…": its keys hold a pickled history, which INCR cannot add to, and a
    # deploy over a live cache would meet them until they expire.
    cache_format = "ratelimit_%(scope)s_%(ident)s"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self.seconds_left = window_hit(self.key, self.duration)
        return count <= self.num_requests

    def wait(self) -> int:
        return self.seconds_left


class AnonRateThrottle(AtomicWindowMixin, throttling.AnonRateThrottle):
    """THROTTLE_ANON_RATE per client address, for requests without credentials."""


class UserRateThrottle(AtomicWindowMixin, throttling.UserRateThrottle):
    """THROTTLE_USER_RATE per account, for token and session requests only."""

    def get_cache_key(self, request, view):
        # DRF's version also counts anonymous requests, per address, against this rate: a
        # request then needs a place in two windows, and a burst gets fewer than either limit.
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class AuthFailureThrottle(AtomicWindowMixin, throttling.SimpleRateThrottle):
    """AUTH_FAILURE_RATE: failed authentications per client address."""

    scope = "auth_failure"

    def get_cache_key(self, request, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def locked_out(self, request) -> int | None:
        """Seconds left when this client has used up its failures, else None."""
        return self.locked_out_and_get(request, None)[0]

    def locked_out_and_get(self, request, other: str | None) -> tuple[int | None, Any]:
        """`locked_out`, and the cached value of `other` (None when absent or not asked for),
        read in one round trip to Redis; NOT_READ instead of the value when there is no limit
        (nothing to read it with)."""
        if self.rate is None:
            return None, NOT_READ
        count, seconds_left, value = window_count_and_get(
            self.get_cache_key(request), self.duration, other
        )
        return (seconds_left if count >= self.num_requests else None), value

    def failure(self, request) -> int | None:
        """Count one failure; seconds left when it went past the limit, else None."""
        if self.rate is None:
            return None
        count, seconds_left = window_hit(self.get_cache_key(request), self.duration)
        return seconds_left if count > self.num_requests else None


def client_address(request) -> str:
    """The client's address as the throttles see it: REMOTE_ADDR, or with NUM_PROXIES set,
    the entry that many proxies back in X-Forwarded-For."""
    return throttling.BaseThrottle().get_ident(request)


def admin_lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a locked-out admin login: 429 with Retry-After."""
    seconds = _axes_cooloff()
    response = HttpResponse(
        _("Too many failed login attempts. Try again in %(seconds)d seconds.")
        % {"seconds": seconds},
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


def _axes_cooloff() -> int:
    # axes restarts the cool-off at each failure, so this is how long the lockout lasts now.
    cool_off = get_cool_off()
    return max(1, int(cool_off.total_seconds())) if cool_off else 60
