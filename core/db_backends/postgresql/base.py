"""PostgreSQL through django-prometheus' wrapper (queries counted and timed, each labelled
series looked up once per connection), with a cheaper health check for persistent connections
(CONN_HEALTH_CHECKS)."""

import select
from time import perf_counter

import psycopg
from django_prometheus.db import (
    errors_total,
    execute_many_total,
    execute_total,
    query_duration_seconds,
)
from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    """django-prometheus' PostgreSQL backend; the per-request health check asks the database
    (`SELECT 1`) only when the connection's socket says something happened to it, and whose
    cursors count and time their queries into series looked up once."""

    def get_connection_params(self):
        """Django's parameters, with cursors that count and time every query (`_cursor_class`)
        instead of django-prometheus' own, which do the same but look their series up again
        (label checks, a lock) on every query."""
        params = super(base.DatabaseWrapper, self).get_connection_params()
        params["cursor_factory"] = _cursor_class(params["cursor_factory"], self.alias, self.vendor)
        return params

    def close_if_health_check_failed(self):
        """Close the connection if it fails a health check, as Django does; skip the round trip
        while the socket has nothing to read.

        An idle connection between requests receives nothing. When the server ends it (a
        restart, a shutdown, `pg_terminate_backend`, an idle timeout, a crashed backend), it
        sends its FATAL message or the kernel its end of stream, and the socket turns readable:
        then Django's own check (`SELECT 1`) runs and closes what is dead. Anything else that
        makes it readable (a notice) takes the same full check. A server gone without a word
        (a cut network) stalls `SELECT 1` as it stalls the request itself.
        """
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and _quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def _quiet(connection) -> bool:
    # True when the connection is open and its socket has nothing to read, no end of stream and
    # no error pending; any doubt (a closed or broken connection, no socket) says False.
    if connection.closed or connection.broken:
        return False
    try:
        poller = select.poll()
        poller.register(connection.pgconn.socket, select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError, AttributeError, psycopg.Error):
        return False


def _cursor_class(cursor_class, alias: str, vendor: str):
    """`cursor_class` counting and timing its queries as django-prometheus' ExportingCursorWrapper
    does (django_db_execute_total, django_db_execute_many_total,
    django_db_query_duration_seconds, django_db_errors_total by exception type), with the
    series of this alias and vendor looked up once."""
    executed = execute_total.labels(alias, vendor)
    executed_many = execute_many_total.labels(alias, vendor)
    duration = query_duration_seconds.labels(alias, vendor)

    def count_error(error: BaseException) -> None:
        errors_total.labels(alias, vendor, type(error).__name__).inc()

    class CursorWrapper(cursor_class):
        def execute(self, *args, **kwargs):
            executed.inc()
            started = perf_counter()
            try:
                return super().execute(*args, **kwargs)
            except BaseException as error:
                count_error(error)
                raise
            finally:
                duration.observe(max(perf_counter() - started, 0))

        def executemany(self, query, param_list, *args, **kwargs):
            executed.inc(len(param_list))
            executed_many.inc(len(param_list))
            started = perf_counter()
            try:
                return super().executemany(query, param_list, *args, **kwargs)
            except BaseException as error:
                count_error(error)
                raise
            finally:
                duration.observe(max(perf_counter() - started, 0))

    return CursorWrapper
