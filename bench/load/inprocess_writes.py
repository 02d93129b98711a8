"""CPU per award write in one process (time.process_time), through Django's test client and
the full middleware: `POST /api/v1/users/{username}/achievements/` with an integration token,
each request a new (user, achievement) pair on achievements made for the run, so every answer
is a 201 (the load harness's award_writes scenario, in-process). Independent of how loaded the
machine is, unlike requests/s. Run it from the checkout to measure, against a seeded database
(bench/load/run.py seeds one):

    cd CHECKOUT && DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadbench \\
        CACHE_URL=redis://127.0.0.1:6379/5 DEBUG=0 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 \\
        SECURE_SSL_REDIRECT=0 ENV_FILE= /path/to/.venv/bin/python \\
        /path/to/bench/load/inprocess_writes.py [--rounds 5] [--per-round 200] [--profile FILE]

Prints the statements of one granting POST, then per round the app CPU (this process) and the
database CPU (its PostgreSQL backend, from /proc) per write, and the least of each. With
`--profile`, the rounds run under cProfile and its statistics go to FILE (the CPU figures then
include the profiler's overhead). It writes real awards: `rebuild_stats --check` must stay
clean afterwards.
"""

import argparse
import cProfile
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loadbench_site.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from achievements.accounts import integration_account_ensure  # noqa: E402
from achievements.services.catalog import achievement_create  # noqa: E402
from users.models import User  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend (0 on other databases)."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=50)
    parser.add_argument("--achievements", type=int, default=8)
    parser.add_argument("--profile", help="write cProfile statistics of the rounds here")
    parser.add_argument("--show-statements", action="store_true")
    args = parser.parse_args()

    token = integration_account_ensure(name="loadbench")
    run = f"{time.time_ns()}"
    codes = [f"bench-p-{run}-{i}" for i in range(args.achievements)]
    for code in codes:
        achievement_create(
            code=code,
            points=10,
            names={"en": code},
            descriptions={"en": "Made by bench/load/inprocess_writes.py."},
        )
    usernames = list(
        User.objects.filter(username__startswith="bench-").values_list("username", flat=True)
    )
    random.seed(run)
    needed = 1 + args.warm_up + args.rounds * args.per_round
    pairs = iter(
        (usernames[index // len(codes)], codes[index % len(codes)])
        for index in random.sample(range(len(usernames) * len(codes)), needed)
    )
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")

    def post() -> None:
        username, code = next(pairs)
        response = client.post(
            f"/api/v1/users/{username}/achievements/",
            {"achievement": code},
            content_type="application/json",
        )
        assert response.status_code == 201, (response.status_code, response.content)

    for _ in range(args.warm_up):
        post()
    with CaptureQueriesContext(connection) as captured:
        post()
    print(f"{Path.cwd().name}: {len(captured)} statements per granting POST")
    if args.show_statements:
        for query in captured.captured_queries:
            print("   ", " ".join(query["sql"].split())[:300])

    # CPU time, not wall time: waiting for the database is not this process's cost.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    app, db = [], []
    for _ in range(args.rounds):
        started, started_db = time.process_time(), backend_cpu()
        if profiler:
            profiler.enable()
        for _ in range(args.per_round):
            post()
        if profiler:
            profiler.disable()
        app.append((time.process_time() - started) / args.per_round * 1000)
        db.append((backend_cpu() - started_db) / args.per_round * 1000)
    print(
        f"{Path.cwd().name}: app CPU ms per write, rounds "
        + " ".join(f"{v:.2f}" for v in app)
        + f"; least {min(app):.2f}"
    )
    print(
        f"{Path.cwd().name}: db CPU ms per write, rounds "
        + " ".join(f"{v:.2f}" for v in db)
        + f"; least {min(db):.2f}"
    )
    if profiler:
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
