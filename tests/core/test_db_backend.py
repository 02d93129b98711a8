"""The PostgreSQL backend's health check (CONN_HEALTH_CHECKS) asks the database only when the
connection's socket shows that something happened to it, and still replaces a connection the
server has ended before the request uses it; a cursor can read timestamps with psycopg's own
loader and get the same instants as through Django's; every query counts in django-prometheus'
series (executions, durations, errors by type) as through its own backend."""

from datetime import timedelta

import psycopg
import pytest
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, close_old_connections, connection
from prometheus_client import REGISTRY

from core.db import cursor_native_timestamps

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend only"),
]


@pytest.fixture
def health_checks(monkeypatch):
    """Health checks on, the connection persistent, and Django's per-request signals wired as
    under gunicorn (the test client disconnects close_old_connections); `checks` counts the
    SELECT 1 round trips."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setattr(connection, "health_check_enabled", True)
    checks = []
    usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or usable())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    yield checks
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)


def backend_pid() -> int:
    """One "request": the signals around a query, as Django's handler sends them."""
    request_started.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    request_finished.send(sender=None)
    return pid


def terminate(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # The backend is gone once it no longer shows in pg_stat_activity.
        for _ in range(200):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break


@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_is_reused_without_a_round_trip(health_checks):
    first = backend_pid()
    assert [backend_pid() for _ in range(3)] == [first] * 3
    assert health_checks == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(health_checks):
    first = backend_pid()
    terminate(first)
    second = backend_pid()
    assert second != first
    # The socket turned readable (the server's goodbye), so Django's own check ran, failed
    # and closed the dead connection; the request then opened a new one.
    assert health_checks == [1]
    assert backend_pid() == second
    assert health_checks == [1]


@pytest.mark.django_db
def test_a_cursor_with_native_timestamps_reads_the_same_instants():
    values = [
        "2026-03-29 01:30:00.123456+00",
        "1969-12-31 23:59:59.999999+00",
        "2026-10-25 00:59:59+02",
        "2000-02-29 12:00:00-09:30",
    ]
    sql = "SELECT v::timestamptz FROM unnest(%s::text[]) AS v"
    with connection.cursor() as cursor:
        cursor.execute(sql, [values])
        django_rows = cursor.fetchall()
    with connection.cursor() as cursor:
        cursor_native_timestamps(cursor)
        oid = psycopg.adapters.types["timestamptz"].oid
        loader = cursor.cursor.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
        assert loader is psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
        cursor.execute(sql, [values])
        native_rows = cursor.fetchall()
    assert native_rows == django_rows
    assert all(
        value.tzinfo is not None and value.utcoffset() == timedelta(0) for (value,) in native_rows
    )


def _db_samples() -> dict[str, float]:
    labels = {"alias": connection.alias, "vendor": connection.vendor}
    return {
        name: REGISTRY.get_sample_value(name, labels) or 0.0
        for name in (
            "django_db_execute_total",
            "django_db_execute_many_total",
            "django_db_query_duration_seconds_count",
        )
    } | {
        "errors": REGISTRY.get_sample_value(
            "django_db_errors_total", {**labels, "type": "UndefinedTable"}
        )
        or 0.0
    }


@pytest.mark.django_db
def test_every_query_is_counted_timed_and_its_error_counted_by_type():
    before = _db_samples()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.executemany("SELECT %s", [[1], [2], [3]])
        with pytest.raises(DatabaseError):
            cursor.execute("SELECT 1 FROM no_such_table_anywhere")
    # The failed transaction is the test's own, rolled back after it.
    after = _db_samples()
    assert {name: after[name] - before[name] for name in after} == {
        "django_db_execute_total": 1 + 3 + 1,
        "django_db_execute_many_total": 3,
        "django_db_query_duration_seconds_count": 3,
        "errors": 1,
    }
