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

from axes.helpers import get_cool_off
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from django.utils.translation import gettext as _
from rest_framework import throttling


def _redis_client(cache: RedisCache, key: str):
    # Django's RedisCache has no atomic "increment or create with expiry"; its `incr` checks
    # EXISTS first, so a key expiring in between would be recreated without any expiry.
    return cache._cache.get_client(key, write=True)


def window_hit(key: str, duration: int) -> tuple[int, int]:
    """Count one hit against `key` atomically; return the hits in the current window (this one
    included) and the seconds until that window ends."""
    cache, now = caches["default"], time.time()
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        with _redis_client(cache, full_key).pipeline(transaction=True) as pipe:
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
    cache, now = caches["default"], time.time()
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        with _redis_client(cache, full_key).pipeline(transaction=True) as pipe:
            pipe.get(full_key)
            pipe.ttl(full_key)
            count, ttl = pipe.execute()
        return int(count or 0), max(ttl, 1)
    return int(cache.get(key, 0)), _seconds_left(cache, key, duration, now)


def _seconds_left(cache, key: str, duration: int, now: float) -> int:
    started = cache.get(f"{key}:start", now)
    return max(1, math.ceil(started + duration - now))


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
        if self.rate is None:
            return None
        count, seconds_left = window_count(self.get_cache_key(request), self.duration)
        return seconds_left if count >= self.num_requests else None

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
