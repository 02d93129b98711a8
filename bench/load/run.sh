#!/usr/bin/env bash
# Load benchmark: the app under gunicorn (the repo's gunicorn.conf.py) on loopback, against
# PostgreSQL holding 100k users and 1M awards, driven by wrk. Not a test: it prints a table of
# requests/s, p50/p99 latency and non-2xx answers per scenario, then checks that every user's
# stored figures still equal their awards (`rebuild_stats --check`).
#
#   bench/load/run.sh                      # seeds the `loadbench` database on first use
#   RESEED=1 bench/load/run.sh             # drop and seed it again
#   DURATION=30s CONNECTIONS=32 WEB_CONCURRENCY=4 GUNICORN_THREADS=1 bench/load/run.sh
#   SCENARIOS="user_awards award_writes" bench/load/run.sh   # a subset
#
# Needs: wrk (Debian package `wrk`), PostgreSQL at LOADBENCH_DATABASE_URL, the project's .venv.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."

export LOADBENCH_DATABASE_URL="${LOADBENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/loadbench}"
DURATION="${DURATION:-20s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
PORT="${PORT:-8077}"
BENCH_USERS="${BENCH_USERS:-100000}"
BENCH_AWARDS="${BENCH_AWARDS:-1000000}"
SCENARIOS="${SCENARIOS:-user_awards catalog stats award_writes}"
# Each run draws new users and achievements unless told otherwise: with a repeated seed the
# writes would all find awards an earlier run made (200s) instead of creating some (201s).
export BENCH_SEED="${BENCH_SEED:-$(date +%s)}"
PYTHON=.venv/bin/python
LOG_DIR="$(mktemp -d -t loadbench-XXXXXX)"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# The app's environment: production settings (DEBUG off, INFO logs, gunicorn access log), no
# throttling (the benchmark is one client), on loopback.
export DATABASE_URL="$LOADBENCH_DATABASE_URL"
export SECRET_KEY="${SECRET_KEY:-loadbench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
export DEBUG=0 ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=0
export THROTTLE_ANON_RATE="" THROTTLE_USER_RATE=""
export GUNICORN_BIND="127.0.0.1:$PORT"

database="${LOADBENCH_DATABASE_URL##*/}"
admin_url="${LOADBENCH_DATABASE_URL%/*}/postgres"
if [ "${RESEED:-0}" = 1 ]; then
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $database"
fi
if ! psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
  psql "$admin_url" -qc "CREATE DATABASE $database"
fi
$PYTHON manage.py migrate --noinput -v0
users=$(psql "$LOADBENCH_DATABASE_URL" -tAc "SELECT count(*) FROM users_user WHERE username LIKE 'bench-%'")
if [ "$users" -lt "$BENCH_USERS" ]; then
  echo "==> Seeding $BENCH_USERS users and $BENCH_AWARDS awards (seed 1)"
  $PYTHON manage.py seed_demo_data --users "$BENCH_USERS" --awards "$BENCH_AWARDS" --seed 1
fi
export BENCH_USERS
BENCH_TOKEN="$($PYTHON manage.py create_api_token loadbench)"
BENCH_CODES="$(psql "$LOADBENCH_DATABASE_URL" -tAc "SELECT string_agg(code, ',') FROM achievements_achievement")"
export BENCH_TOKEN BENCH_CODES
read -r users awards < <(psql "$LOADBENCH_DATABASE_URL" -tA -F' ' \
  -c "SELECT (SELECT count(*) FROM users_user), (SELECT count(*) FROM achievements_award)")

echo "==> gunicorn on $GUNICORN_BIND (WEB_CONCURRENCY=${WEB_CONCURRENCY:-default}," \
  "GUNICORN_THREADS=${GUNICORN_THREADS:-default}); logs in $LOG_DIR"
$PYTHON -m gunicorn --config gunicorn.conf.py achievements_site.wsgi >"$LOG_DIR/gunicorn.log" 2>&1 &
gunicorn_pid=$!
trap 'kill "$gunicorn_pid" 2>/dev/null; wait "$gunicorn_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null -H "Host: 127.0.0.1" "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null -H "Host: 127.0.0.1" "http://127.0.0.1:$PORT/readyz"
workers=$(($(pgrep -P "$gunicorn_pid" | wc -l)))

run() {  # run NAME SCRIPT [PATH]: one wrk scenario; its RESULT line lands in LOG_DIR/NAME.out
  local name=$1 script=$2
  BENCH_PATH="${3:-}" wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s \
    -H "Host: 127.0.0.1" -s "bench/load/wrk/$script" "http://127.0.0.1:$PORT" \
    >"$LOG_DIR/$name.out" 2>&1 || { cat "$LOG_DIR/$name.out" >&2; exit 1; }
  echo "    $name: $(grep '^RESULT' "$LOG_DIR/$name.out" | cut -c8-)"
}

echo "==> Warming up (5s)"
DURATION=5s run warmup user_awards.lua
echo "==> Scenarios: $DURATION each, $THREADS wrk threads, $CONNECTIONS connections, seed $BENCH_SEED"
for scenario in $SCENARIOS; do
  case "$scenario" in
    user_awards) run user_awards user_awards.lua ;;
    catalog) run catalog get.lua /api/v1/achievements/ ;;
    stats) run stats get.lua /api/v1/stats/ ;;
    award_writes) run award_writes award_writes.lua ;;
    *) echo "unknown scenario: $scenario" >&2; exit 2 ;;
  esac
done

kill "$gunicorn_pid"
wait "$gunicorn_pid" 2>/dev/null || true
trap - EXIT

echo "==> rebuild_stats --check"
$PYTHON manage.py rebuild_stats --check

echo
echo "Data: $users users, $awards awards before the run; $(nproc) CPUs;" \
  "gunicorn: $workers workers x ${GUNICORN_THREADS:-1} threads;" \
  "wrk: -t$THREADS -c$CONNECTIONS -d$DURATION, BENCH_SEED=$BENCH_SEED"
echo
# shellcheck disable=SC2086
$PYTHON bench/load/table.py "$LOG_DIR" $SCENARIOS
