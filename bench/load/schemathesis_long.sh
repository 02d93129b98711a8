#!/usr/bin/env bash
# The long schemathesis run: every operation of the OpenAPI schema, every check, a fixed seed,
# thousands of generated requests, with an integration token so writes are exercised too.
# It runs against the app under gunicorn (the repo's gunicorn.conf.py) on loopback, on a fresh
# PostgreSQL database filled with the demo data. (`make test` holds a short in-process run.)
#
#   bench/load/schemathesis_long.sh                 # 500 examples per operation, seed 1
#   MAX_EXAMPLES=500 SEED=7 bench/load/schemathesis_long.sh
#   SCHEMATHESIS=/path/to/venv/bin/schemathesis bench/load/schemathesis_long.sh
#
# Exits non-zero when schemathesis reports any failure; the JUnit report lands in REPORT_DIR.
# schemathesis 4.3 generates bodies with hypothesis-jsonschema, which needs Hypothesis < 6.170.10
# (later releases dropped `many.more()`): every operation then errors with "'many' object has no
# attribute 'more'" until Hypothesis is pinned (or SCHEMATHESIS points at a venv that pins it).
set -Eeuo pipefail
cd "$(dirname "$0")/../.."

DATABASE_URL="${SCHEMATHESIS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/schemathesis_long}"
MAX_EXAMPLES="${MAX_EXAMPLES:-500}"
SEED="${SEED:-1}"
PORT="${PORT:-8078}"
REPORT_DIR="${REPORT_DIR:-$(mktemp -d -t schemathesis-long-XXXXXX)}"
PYTHON=.venv/bin/python
SCHEMATHESIS="${SCHEMATHESIS:-.venv/bin/schemathesis}"
mkdir -p "$REPORT_DIR"

export DATABASE_URL
export SECRET_KEY="${SECRET_KEY:-schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
export DEBUG=0 ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=0
export THROTTLE_ANON_RATE="" THROTTLE_USER_RATE=""
export GUNICORN_BIND="127.0.0.1:$PORT"

echo "==> Fresh database ${DATABASE_URL##*/} with the demo data"
admin_url="${DATABASE_URL%/*}/postgres"
psql "$admin_url" -qc "DROP DATABASE IF EXISTS ${DATABASE_URL##*/}" \
  -c "CREATE DATABASE ${DATABASE_URL##*/}"
$PYTHON manage.py migrate --noinput -v0 >"$REPORT_DIR/setup.log" 2>&1
$PYTHON manage.py seed_demo_data >>"$REPORT_DIR/setup.log" 2>&1
token="$($PYTHON manage.py create_api_token schemathesis 2>>"$REPORT_DIR/setup.log")"

echo "==> gunicorn on $GUNICORN_BIND; its log: $REPORT_DIR/gunicorn.log"
$PYTHON -m gunicorn --config gunicorn.conf.py achievements_site.wsgi >"$REPORT_DIR/gunicorn.log" 2>&1 &
gunicorn_pid=$!
trap 'kill "$gunicorn_pid" 2>/dev/null; wait "$gunicorn_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz"

echo "==> schemathesis: --checks all --seed $SEED --max-examples $MAX_EXAMPLES"
status=0
# The token header authenticates every request; generating the schema's other credential (the
# admin session cookie) too would only produce raw bytes gunicorn refuses as an HTTP header.
"$SCHEMATHESIS" run "http://127.0.0.1:$PORT/api/schema/?format=json" \
  --checks all \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --header "Authorization: Token $token" \
  --generation-with-security-parameters false \
  --request-timeout 30 \
  --report junit --report-dir "$REPORT_DIR" \
  --no-color || status=$?

echo
echo "Server errors in the app's log: $(grep -c 'Internal Server Error' "$REPORT_DIR/gunicorn.log" || true)"
echo "Reports: $REPORT_DIR"
exit "$status"
