"""PostgreSQL through django-prometheus' wrapper (queries counted and timed), with a cheaper
health check for persistent connections (CONN_HEALTH_CHECKS)."""

import select

import psycopg
from django_prometheus.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    """django-prometheus' PostgreSQL backend; the per-request health check asks the database
    (`SELECT 1`) only when the connection's socket says something happened to it."""

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
