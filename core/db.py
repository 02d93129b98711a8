"""Database plumbing the services share: shared row locks, lifted timeouts for maintenance,
and VACUUM after bulk loads. Values always travel as parameters; only table names (from model
metadata) are formatted into the text."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Model
from psycopg.pq import Format

_LOCK_SHARED = {
    "postgresql": "SELECT 1, {columns} FROM {table} WHERE id = %s FOR SHARE",
    # SQLite has no row locks: a write transaction holds the whole database (IMMEDIATE mode).
    "sqlite": "SELECT 1, {columns} FROM {table} WHERE id = %s",
}


def row_lock_shared(model: type[Model], pk: int) -> bool:
    """Hold the row `pk` of `model` against changes until this transaction ends (others may
    hold it too); False when the row does not exist."""
    return row_lock_shared_values(model, pk) is not None


def row_lock_shared_values(model: type[Model], pk: int, *fields: str) -> tuple | None:
    """`row_lock_shared`, returning the values of `fields` as read under the lock, or None
    when the row does not exist."""
    columns = ", ".join(model._meta.get_field(name).column for name in fields) or "1"
    sql = _LOCK_SHARED[connection.vendor].format(table=model._meta.db_table, columns=columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return None if row is None else tuple(row[1 : 1 + len(fields)])


def cursor_native_timestamps(cursor) -> None:
    """Make this cursor read `timestamptz` values with psycopg's own loader (compiled, in
    psycopg[binary]) instead of Django's: the same instants, aware, in the session's time zone
    (UTC, as Django sets it), for a hot read that only formats them. Nothing on SQLite or
    without USE_TZ.

    Django reads them through a pure-Python subclass of psycopg's loader, only to put its own
    tzinfo object on each value: about 5 microseconds per value, 80 of the ~150 microseconds of
    CPU a page of a user's awards takes on the app's side.
    """
    if connection.vendor == "postgresql" and settings.USE_TZ:
        cursor.cursor.adapters.register_loader("timestamptz", _native_timestamptz_loader())


@cache
def _native_timestamptz_loader():
    return psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)


def statement_timeout_lift() -> None:
    """Let the statements of the current transaction run as long as they need (maintenance).

    Requests are bounded by statement_timeout (settings); maintenance is not. SQLite has no
    statement timeout.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")


def vacuum_analyze(*models: type[Model]) -> None:
    """After a bulk load on PostgreSQL: mark pages all-visible (index-only scans then skip the
    heap) and refresh planner statistics. Does nothing inside a transaction, where VACUUM
    cannot run (autovacuum will get there)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def advisory_lock_xact(key: int) -> None:
    """Hold the PostgreSQL advisory lock `key` until this transaction ends (one holder at a
    time). SQLite needs none: a write transaction already holds the whole database."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


# The namespace of the advisory locks taken per event type (the first key of PostgreSQL's
# two-key advisory locks), so they cannot collide with other advisory locks of the project.
EVENT_TYPE_LOCKS = 14


def event_types_lock(types, *, shared: bool) -> None:
    """Hold a lock per event type until this transaction ends: shared by batches of events,
    exclusive by a change of the rules of those types. Taken in one order (by key), before any
    row lock. SQLite needs none: its write transactions run one at a time."""
    types = sorted(set(types))
    if connection.vendor != "postgresql" or not types:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {function}(%s, k) FROM (SELECT DISTINCT hashtext(t) AS k "
            "FROM unnest(%s::text[]) AS t ORDER BY k) AS keys",
            [EVENT_TYPE_LOCKS, types],
        )


def event_types_try_lock_shared(types) -> bool:
    """`event_types_lock(types, shared=True)` without waiting: False, holding none it could
    not take, when a rule change holds one of them. For a transaction that already holds
    user rows, which must not wait for a type lock (it comes first in the lock order). SQLite
    needs none."""
    types = sorted(set(types))
    if connection.vendor != "postgresql" or not types:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_try_advisory_xact_lock_shared(%s, k)) FROM (SELECT DISTINCT "
            "hashtext(t) AS k FROM unnest(%s::text[]) AS t ORDER BY k) AS keys",
            [EVENT_TYPE_LOCKS, types],
        )
        return bool(cursor.fetchone()[0])


@contextmanager
def indexes_built_after(model: type[Model], *, at_most: int = 10_000) -> Iterator[None]:
    """On PostgreSQL, for a bulk load inside a transaction into a table that holds at most
    `at_most` rows (a new database being seeded): drop the model's plain indexes (not its
    primary key or unique constraints, which the load may rely on) and build them again when
    the block ends. One sort per index instead of a million scattered insertions; the table
    is held exclusively until the transaction ends (readers wait), which is why larger tables
    are left alone. Anywhere else it does nothing."""
    table = model._meta.db_table
    if connection.vendor != "postgresql" or model.objects.count() > at_most:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = %s "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        # Sorts for the builds in memory where they fit (a million rows each).
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # An index cannot be built while the loaded rows' deferred foreign-key checks are
        # pending: run them now (they would run at commit), then defer again.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
