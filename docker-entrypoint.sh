#!/bin/sh
# Entrypoint of the web image.
#   gunicorn ...   (the image's CMD) publishes the static files to nginx's volume, applies
#                  migrations, loads the demo data when SEED_DEMO=1, then becomes gunicorn
#                  (PID 1, so `docker stop` reaches it).
#   healthcheck    the image's HEALTHCHECK: GET /healthz on this container's gunicorn.
#   anything else  runs as is: `docker compose run --rm web python manage.py createsuperuser`.
set -eu

export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-achievements_site.settings}"

healthcheck() {
    # The image has no curl; python's urllib is enough. The Host header is the first
    # ALLOWED_HOSTS entry, so Django accepts the probe whatever the site is called.
    exec python - <<'PY'
import os
import urllib.request

bind = os.environ.get("GUNICORN_BIND", "")
port = bind.rpartition(":")[2] if bind else os.environ.get("PORT") or "8000"
hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
host = hosts[0].lstrip(".") if hosts and hosts[0] != "*" else "localhost"
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
with urllib.request.urlopen(request, timeout=2) as response:
    raise SystemExit(0 if response.status == 200 else 1)
PY
}

publish_static() {
    # Copy this image's collected static files into the volume nginx serves (NGINX_STATIC_ROOT).
    # Each file lands under a temporary name and is renamed into place, and identical files are
    # left alone, so nginx never serves a half-written file while replicas start or upgrade.
    # Files of earlier releases stay: pages they rendered keep their hashed assets.
    python - <<'PY'
import filecmp
import os
import shutil
from pathlib import Path

source, target = Path(os.environ["STATIC_ROOT"]), Path(os.environ["NGINX_STATIC_ROOT"])
for path in source.rglob("*"):
    destination = target / path.relative_to(source)
    if path.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
    elif not (destination.exists() and filecmp.cmp(path, destination, shallow=False)):
        partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
        shutil.copy2(path, partial)
        os.replace(partial, destination)
PY
}

migrate_and_seed() {
    # Replicas that start together (`docker compose up --scale web=3`) queue on a PostgreSQL
    # advisory lock: one migrates and seeds, the others then find nothing left to do. The
    # statement timeout that bounds web requests would cut a long migration short, so it is
    # lifted here (MIGRATE_STATEMENT_TIMEOUT_MS, 0 = none).
    DB_STATEMENT_TIMEOUT_MS="${MIGRATE_STATEMENT_TIMEOUT_MS:-0}" python - <<'PY'
import os

import django

django.setup()

from django.core.management import call_command
from django.db import connection

if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext('achievements: migrate and seed'))")
call_command("migrate", interactive=False)
if os.environ.get("SEED_DEMO") == "1":
    call_command("seed_demo_data")
PY
}

case "${1:-}" in
    healthcheck)
        healthcheck
        ;;
    gunicorn)
        if [ -n "${NGINX_STATIC_ROOT:-}" ]; then
            publish_static
        fi
        if [ "${MIGRATE_ON_START:-1}" = 1 ]; then
            migrate_and_seed
        fi
        ;;
esac

exec "$@"
