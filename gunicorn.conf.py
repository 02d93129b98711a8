"""gunicorn settings for the container and the end-to-end test; everything tunable comes from env.

Run: gunicorn --config gunicorn.conf.py achievements_site.wsgi
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cpus() -> int:
    # The CPUs this process may run on (a container's cpuset), not the whole host's.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# GUNICORN_BIND wins; otherwise PORT, the variable most platforms set.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"

# The usual 2 x CPUs + 1, capped: each worker holds a database connection (CONN_MAX_AGE).
workers = _int("WEB_CONCURRENCY", min(2 * _cpus() + 1, 9))
# More than one thread switches to the gthread worker; requests then share a worker's memory.
threads = _int("GUNICORN_THREADS", 1)

# A worker silent for this long is killed and replaced, so one hung request cannot hold a worker
# forever. It sits above the database statement timeout (15 s) and below nginx's read timeout
# (35 s), so a slow query fails in Django and a hung worker answers 502 from nginx, not a hang.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (docker stop, a deploy) workers finish in-flight requests for up to this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
# Seconds an idle keep-alive connection from nginx stays open (gthread workers only).
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Request head limits, the same as nginx's `large_client_header_buffers 4 8k` in front: a request
# line or a header line up to 8 KiB (8190 bytes plus CRLF, gunicorn's maximum), at most 100
# header fields. Beyond them gunicorn answers 400 itself, before the app sees the request.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle workers now and then so a slow leak cannot grow without bound; jitter avoids all at once.
# 100,000 requests: at full load (~1,300 req/s over 5 workers) a worker lives ~6 minutes; 2,000
# restarted one every few seconds, each restart a new database connection and cold caches.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = max_requests // 10
# Worker heartbeats on tmpfs: a container's overlay /tmp can stall them and get workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Addresses allowed to set X-Forwarded-Proto/-For for gunicorn itself (wsgi.url_scheme). Django
# does not depend on it: it reads X-Forwarded-Proto through SECURE_PROXY_SSL_HEADER, and nginx
# always overwrites that header. Compose sets "*" because only nginx can reach the web service.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log on stdout. The client is the X-Forwarded-For chain nginx built ("client, proxy"),
# then the peer that connected (nginx), the request id shared with nginx and Django, and the time.
# GUNICORN_ACCESS_LOG=0 turns it off: compose does, since nginx in front writes the same line
# (nginx/templates); a gunicorn line costs a sync worker about 0.1 ms of CPU per request.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1").strip() != "0" else None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%({x-forwarded-for}i)s via %(h)s "%(r)s" %(s)s %(b)s %(M)sms '
    # The response header: nginx's id echoed back, or the one the app generated.
    'request_id=%({x-request-id}o)s "%(a)s"'
)

# LOG_FORMAT=json (as for Django): gunicorn's own lines, access lines included, become one JSON
# object per line through the same formatter; access lines carry method, path, status,
# duration_ms and the request id as fields of their own.
if os.environ.get("LOG_FORMAT", "").strip() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "core.logging.RequestIdFilter"},
            "access": {"()": "core.logging.AccessLogFilter"},
        },
        "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id", "access"],
                "stream": "ext://sys.stdout",
            },
        },
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {
                "handlers": ["console"],
                "level": loglevel.upper(),
                "propagate": False,
            },
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }

# /metrics for every worker at once: with PROMETHEUS_MULTIPROC_DIR set, prometheus_client keeps
# each worker's values in files there and the view sums them (otherwise a scrape sees only the
# worker that answered it). The folder is emptied at start, and a dead worker's gauges dropped.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()


def on_starting(server):
    if _metrics_dir:
        os.makedirs(_metrics_dir, exist_ok=True)
        for name in os.listdir(_metrics_dir):
            if name.endswith(".db"):
                os.remove(os.path.join(_metrics_dir, name))


def child_exit(server, worker):
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
