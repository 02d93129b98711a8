"""Raw SQL for events and their measures: the insert that detects duplicates, the per-day
upsert, and the per-(user, type) summary with its gaps-and-islands streak.

Where PostgreSQL and SQLite differ, the two spellings sit side by side in `_DIALECTS`. Values
always travel as parameters; only table names (from model metadata) are formatted into the text.
"""

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from achievements.queries import local_day_sql
from events.models import Event, EventDay, Measure
from users.models import User

_DIALECTS = {
    "postgresql": {
        # A date minus an integer is a date: consecutive days share one island key.
        "island_key": (
            "day - CAST(ROW_NUMBER() OVER (PARTITION BY user_id, type ORDER BY day) AS integer)"
        ),
        "users_lock": "FOR UPDATE",
    },
    "sqlite": {
        # SQLite keeps dates as ISO text; julianday() makes them countable.
        "island_key": (
            "julianday(day) - ROW_NUMBER() OVER (PARTITION BY user_id, type ORDER BY day)"
        ),
        # No row locks: a write transaction holds the whole database (IMMEDIATE mode).
        "users_lock": "",
    },
}


def _dialect() -> dict:
    return _DIALECTS[connection.vendor]


def _placeholders(rows: int, columns: int) -> str:
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([row] * rows)


def _json(keys: Sequence[str], rows: Iterable[Sequence]) -> str:
    """Rows as one JSON array of objects, for PostgreSQL's jsonb_to_recordset: the driver
    quotes one string instead of every value (dates and moments as ISO 8601)."""
    return json.dumps(
        [dict(zip(keys, row, strict=True)) for row in rows],
        default=lambda value: value.isoformat(),
    )


def _datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def users_lock_by_name(names: Iterable[str]) -> dict[str, tuple[int, str]]:
    """The (id, time zone) of the users with these names (lowercased), their rows held in
    ascending id order until the transaction ends: the documented lock order."""
    names = sorted(set(names))
    if not names:
        return {}
    table = User._meta.db_table
    if connection.vendor == "postgresql":
        names_sql, params = "SELECT jsonb_array_elements_text(%s::jsonb)", [json.dumps(names)]
    else:
        names_sql, params = ", ".join(["%s"] * len(names)), names
    sql = (
        f"SELECT id, LOWER(username), time_zone FROM {table} "
        f"WHERE LOWER(username) IN ({names_sql}) ORDER BY id {_dialect()['users_lock']}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {name: (pk, zone) for pk, name, zone in cursor.fetchall()}


def event_types_of_user(user_id: int) -> list[str]:
    """The event types the user has measures of, in code point order."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT type FROM {Measure._meta.db_table} WHERE user_id = %s", [user_id])
        return sorted(row[0] for row in cursor.fetchall())


def events_insert(rows: Sequence[tuple], received_at: datetime) -> set[str]:
    """Insert (event_id, user_id, type, value, occurred_at, sent_by_id) rows; return the ids
    this statement inserted. An id already stored (by anyone, committed or about to be) is
    skipped by the unique constraint, not by a prior read, so racing retries count once."""
    if not rows:
        return set()
    # Ascending ids: concurrent batches wait on each other's ids in one order, never in a cycle.
    rows = sorted(rows, key=lambda row: row[0])
    sent_by_id = rows[0][5]
    table = Event._meta.db_table
    columns = "event_id, user_id, type, value, occurred_at, received_at, sent_by_id"
    conflict = "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
    if connection.vendor == "postgresql":
        # One JSON parameter, not 6,000 literals for the driver to quote one by one; the
        # function scan yields the rows in the array's (sorted) order.
        sql = (
            f"INSERT INTO {table} ({columns}) "
            "SELECT e.event_id, e.user_id, e.type, e.value, e.occurred_at, %s, %s "
            "FROM jsonb_to_recordset(%s::jsonb) AS e (event_id text, user_id bigint, "
            f"type text, value integer, occurred_at timestamptz) {conflict}"
        )
        keys = ("event_id", "user_id", "type", "value", "occurred_at")
        params = [received_at, sent_by_id, _json(keys, [row[:5] for row in rows])]
    else:
        received = _datetime(received_at)
        params = []
        for event_id, user_id, type_, value, occurred_at, _sent_by in rows:
            params += [
                event_id,
                user_id,
                type_,
                value,
                _datetime(occurred_at),
                received,
                sent_by_id,
            ]
        sql = f"INSERT INTO {table} ({columns}) VALUES {_placeholders(len(rows), 7)} {conflict}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def event_days_add(rows: Sequence[tuple]) -> None:
    """Add (user_id, type, day, count, sum, last_at) to the per-day rows, one row per key."""
    if not rows:
        return
    table = EventDay._meta.db_table
    columns = "user_id, type, day, event_count, value_sum, last_at"
    upsert = (
        "ON CONFLICT (user_id, type, day) DO UPDATE SET "
        "event_count = t.event_count + excluded.event_count, "
        "value_sum = t.value_sum + excluded.value_sum, "
        "last_at = CASE WHEN excluded.last_at > t.last_at THEN excluded.last_at "
        "ELSE t.last_at END"
    )
    if connection.vendor == "postgresql":
        sql = (
            f"INSERT INTO {table} AS t ({columns}) "
            "SELECT * FROM jsonb_to_recordset(%s::jsonb) AS d (user_id bigint, type text, "
            f"day date, event_count bigint, value_sum bigint, last_at timestamptz) {upsert}"
        )
        keys = ("user_id", "type", "day", "event_count", "value_sum", "last_at")
        params = [_json(keys, rows)]
    else:
        params = []
        for user_id, type_, day, count, total, last_at in rows:
            params += [
                user_id,
                type_,
                connection.ops.adapt_datefield_value(day),
                count,
                total,
                _datetime(last_at),
            ]
        sql = f"INSERT INTO {table} AS t ({columns}) VALUES {_placeholders(len(rows), 6)} {upsert}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _days_source(pairs: Sequence[tuple[int, str]] | None) -> tuple[str, list]:
    """CTEs ending in `d`: the stored per-day rows of the given (user_id, type) pairs, or of
    all."""
    days = EventDay._meta.db_table
    columns = "d.user_id, d.type, d.day, d.event_count, d.value_sum, d.last_at"
    if pairs is None:
        return f"d AS (SELECT {columns} FROM {days} d)", []
    if connection.vendor == "postgresql":
        # LATERAL with OFFSET 0 (which keeps the planner from flattening it into a join): one
        # index range per pair, never a scan of every user's days, whatever the estimates say.
        sql = (
            "pairs (user_id, type) AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) "
            "AS p (user_id bigint, type text)), "
            f"d AS (SELECT {columns} FROM pairs p CROSS JOIN LATERAL ("
            f"SELECT * FROM {days} x WHERE x.user_id = p.user_id AND x.type = p.type OFFSET 0) d)"
        )
        return sql, [_json(("user_id", "type"), pairs)]
    # SQLite joins by nested loops over the unique index anyway.
    values = ", ".join(["(%s, %s)"] * len(pairs))
    sql = (
        f"pairs (user_id, type) AS (VALUES {values}), "
        f"d AS (SELECT {columns} FROM pairs p JOIN {days} d "
        "ON d.user_id = p.user_id AND d.type = p.type)"
    )
    return sql, [value for pair in pairs for value in pair]


def _summary_sql(days: str, params: list) -> tuple[str, list]:
    """A CTE named `summary` (user_id, type, event_count, value_sum, days, longest_streak,
    last_occurred_at) after `days`, CTEs ending in `d`: per-day rows (user_id, type, day,
    event_count, value_sum, last_at)."""
    sql = f"""
        WITH {days},
        islands AS (
            SELECT user_id, type, {_dialect()["island_key"]} AS island FROM d
        ),
        runs AS (
            SELECT user_id, type, COUNT(*) AS length FROM islands GROUP BY user_id, type, island
        ),
        streaks AS (
            SELECT user_id, type, MAX(length) AS longest FROM runs GROUP BY user_id, type
        ),
        totals AS (
            SELECT user_id, type, SUM(event_count) AS event_count, SUM(value_sum) AS value_sum,
                   COUNT(*) AS days, MAX(last_at) AS last_occurred_at
            FROM d GROUP BY user_id, type
        ),
        summary AS (
            SELECT t.user_id, t.type, t.event_count, t.value_sum, t.days,
                   s.longest AS longest_streak, t.last_occurred_at
            FROM totals t JOIN streaks s ON s.user_id = t.user_id AND s.type = t.type
        )
    """
    return sql, params


_MEASURE_COLUMNS = ("event_count", "value_sum", "days", "longest_streak", "last_occurred_at")


def measures_refresh(
    pairs: Sequence[tuple[int, str]] | None, *, returning: bool = False
) -> dict[tuple[int, str], dict]:
    """Rewrite the measures of these (user_id, type) pairs (or of all) from the per-day rows;
    with `returning`, answer their new figures by pair (from the same statement)."""
    if pairs is not None and not pairs:
        return {}
    sql, params = _summary_sql(*_days_source(pairs))
    columns = ", ".join(_MEASURE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _MEASURE_COLUMNS)
    # `WHERE true`: SQLite needs it to read ON CONFLICT as the upsert, not as a join clause.
    sql += f"""
        INSERT INTO {Measure._meta.db_table} (user_id, type, {columns})
        SELECT user_id, type, {columns} FROM summary WHERE true
        ON CONFLICT (user_id, type) DO UPDATE SET {updates}
    """
    if returning:
        sql += f" RETURNING user_id, type, {', '.join(RULE_FIGURES)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning:
            return {}
        return {
            (row[0], row[1]): dict(zip(RULE_FIGURES, row[2:], strict=True))
            for row in cursor.fetchall()
        }


# The measure columns rules read (the count, sum, days and longest streak).
RULE_FIGURES = ("event_count", "value_sum", "days", "longest_streak")


def measures_refresh_figures(
    pairs: Sequence[tuple[int, str]],
) -> tuple[dict[tuple[int, str], dict], dict[tuple[int, str], dict]]:
    """`measures_refresh` of these (user_id, type) pairs, answering their figures rules read
    (RULE_FIGURES) before and after, by pair (a pair with no measure before has none in
    the first). On PostgreSQL one statement: the old rows are read in the snapshot the upsert
    starts from, and come back as rows of their own (no join of the two)."""
    if not pairs:
        return {}, {}
    if connection.vendor != "postgresql":
        before = measures_figures(pairs)
        return before, measures_refresh(pairs, returning=True)
    sql, params = _summary_sql(*_days_source(pairs))
    table = Measure._meta.db_table
    columns = ", ".join(_MEASURE_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _MEASURE_COLUMNS)
    figures = ", ".join(RULE_FIGURES)
    sql += f""",
        old AS (
            SELECT m.user_id, m.type, {figures} FROM pairs p CROSS JOIN LATERAL (
                SELECT * FROM {table} x WHERE x.user_id = p.user_id AND x.type = p.type OFFSET 0
            ) m
        ),
        new AS (
            INSERT INTO {table} (user_id, type, {columns})
            SELECT user_id, type, {columns} FROM summary
            ON CONFLICT (user_id, type) DO UPDATE SET {updates}
            RETURNING user_id, type, {figures}
        )
        SELECT true, user_id, type, {figures} FROM new
        UNION ALL SELECT false, user_id, type, {figures} FROM old
    """
    before, after = {}, {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            figures_of = after if row[0] else before
            figures_of[(row[1], row[2])] = dict(zip(RULE_FIGURES, row[3:], strict=True))
    return before, after


def measures_figures(pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], dict]:
    """The stored figures rules read (RULE_FIGURES) of these (user_id, type) pairs."""
    if not pairs:
        return {}
    wanted = set(pairs)
    users = sorted({user_id for user_id, _type in pairs})
    # By user alone: the (user, type) index answers it; adding the types lets the planner
    # pick the (type, user) index and read every user's measure of those types.
    sql = (
        f"SELECT user_id, type, {', '.join(RULE_FIGURES)} FROM {Measure._meta.db_table} "
        f"WHERE user_id IN ({', '.join(['%s'] * len(users))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, users)
        return {
            (row[0], row[1]): dict(zip(RULE_FIGURES, row[2:], strict=True))
            for row in cursor.fetchall()
            if (row[0], row[1]) in wanted
        }


def _expected_days_sql(user_id: int | None = None) -> tuple[str, list]:
    """SELECT (user_id, type, day, event_count, value_sum, last_at): the per-day rows as the
    raw events give them, each day taken in the event's user's own time zone (converted in
    the database, as the award streaks are), for every user or one."""
    day = local_day_sql("e.occurred_at", "u.time_zone")
    only_user = "WHERE e.user_id = %s" if user_id is not None else ""
    sql = f"""
        SELECT e.user_id, e.type, {day} AS day, COUNT(*) AS event_count,
               SUM(e.value) AS value_sum, MAX(e.occurred_at) AS last_at
        FROM {Event._meta.db_table} e JOIN {User._meta.db_table} u ON u.id = e.user_id
        {only_user}
        GROUP BY e.user_id, e.type, {day}
    """
    return sql, [user_id] if user_id is not None else []


def event_days_rebuild(user_id: int | None = None) -> None:
    """Replace every per-day row (or one user's) with what the raw events give (set-based)."""
    sql, params = _expected_days_sql(user_id)
    table = EventDay._meta.db_table
    with connection.cursor() as cursor:
        if user_id is None:
            cursor.execute(f"DELETE FROM {table}")
        else:
            cursor.execute(f"DELETE FROM {table} WHERE user_id = %s", [user_id])
        cursor.execute(
            f"INSERT INTO {table} (user_id, type, day, event_count, value_sum, last_at) "
            f"SELECT user_id, type, day, event_count, value_sum, last_at FROM ({sql}) AS e",
            params,
        )


def measures_rebuild_all() -> None:
    """Replace every measure with what the per-day rows give (set-based)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Measure._meta.db_table}")
    measures_refresh(None)


def measures_expected() -> dict[tuple[int, str], dict]:
    """Every (user_id, type) measure as the raw events give it, computed in SQL from the
    events alone (not from the per-day rows)."""
    days_sql, params = _expected_days_sql()
    sql, params = _summary_sql(f"d AS ({days_sql})", params)
    sql += f"SELECT user_id, type, {', '.join(_MEASURE_COLUMNS)} FROM summary"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {(row[0], row[1]): _measure_figures(row[2:]) for row in rows}


def measures_stored() -> dict[tuple[int, str], dict]:
    """Every stored measure, keyed by (user_id, type)."""
    rows = Measure.objects.values_list("user_id", "type", *_MEASURE_COLUMNS)
    return {(row[0], row[1]): _measure_figures(row[2:]) for row in rows.iterator(chunk_size=5000)}


def _measure_figures(values) -> dict:
    figures = dict(zip(_MEASURE_COLUMNS, values, strict=True))
    figures["last_occurred_at"] = _as_datetime(figures["last_occurred_at"])
    for name in ("event_count", "value_sum", "days", "longest_streak"):
        figures[name] = int(figures[name])
    return figures


def _as_datetime(value) -> datetime:
    # Raw SQLite rows hand datetimes back as text in UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value
