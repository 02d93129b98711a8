"""Log record helpers: the request id on every line, and JSON output when LOG_FORMAT=json."""

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being served ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(_LibraryJsonFormatter):
    """python-json-logger with this service's keys: `time` (UTC, ISO 8601), `level`,
    `logger`, `request_id`, `message`, then any `extra=` fields."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"}
        )
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_ensure_ascii", False)
        kwargs.setdefault("defaults", {"request_id": "-"})
        super().__init__(["levelname", "name", "request_id", "message"], *args, **kwargs)


class AccessLogFilter(logging.Filter):
    """For gunicorn's access lines: the request's method, path, status and duration (ms) as
    fields of their own, and the request id from the X-Request-ID response header."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, Mapping):
            record.method = atoms["m"]
            record.path = atoms["U"]
            record.query = atoms["q"]
            record.status = int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"]
            record.duration_ms = round(int(atoms["D"]) / 1000, 3)
            record.client = atoms["h"]
            request_id = atoms["{x-request-id}o"]
            if request_id and request_id != "-":
                record.request_id = request_id
        return True


class _InfoAsDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


@contextmanager
def details_at_debug(*logger_names: str) -> Iterator[None]:
    """Within the block, the INFO records of these loggers are DEBUG records: a bulk job (seeding)
    logs its summary at INFO, not one line per row it writes."""
    demote = _InfoAsDebug()
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(demote)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(demote)
