"""The atomic rate counter: a fixed window per client, counted in one step, so simultaneous
requests cannot all read the same count and all pass."""

import threading
import time
import uuid

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import window_count, window_hit


@pytest.fixture
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{uuid.uuid4().hex}",
        }
    }


def test_each_hit_counts_once_and_the_window_says_when_it_ends(private_cache):
    assert window_count("k", 60) == (0, 60)
    assert [window_hit("k", 60)[0] for _ in range(5)] == [1, 2, 3, 4, 5]
    count, seconds_left = window_count("k", 60)
    assert count == 5
    assert 1 <= seconds_left <= 60
    assert window_hit("other", 60)[0] == 1


def test_simultaneous_hits_from_many_threads_are_all_counted(private_cache):
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def hit():
        start.wait()
        for _ in range(50):
            count = window_hit("burst", 60)[0]
            with lock:
                results.append(count)

    threads = [threading.Thread(target=hit) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Every hit got its own number: none was lost, none was handed out twice.
    assert sorted(results) == list(range(1, 16 * 50 + 1))


def test_the_api_counts_with_the_atomic_throttles(settings):
    classes = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert classes == ["core.throttling.AnonRateThrottle", "core.throttling.UserRateThrottle"]


@pytest.mark.django_db
def test_a_history_left_by_drfs_own_throttle_does_not_break_counting(private_cache, monkeypatch):
    """A deploy over a live cache meets DRF's pickled histories; they use other keys."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": None})
    caches["default"].set("throttle_anon_127.0.0.1", [time.time()], 60)
    client = APIClient()
    statuses = [client.get("/api/v1/stats/most-points/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
