#!/usr/bin/env python
"""Benchmark the stats endpoints against the naive way, on PostgreSQL, at several sizes.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/stats_benchmark.py --sizes 10000,100000,1000000

For each size N (awards) it drops and creates the database `<name>_<N>` (`<name>` from
DATABASE_URL) through the server's `postgres` database, migrates, seeds N awards over N/10
users with `seed_demo_data --seed 1` (timed), runs VACUUM ANALYZE as autovacuum eventually
would, then times every stats endpoint through django.test.Client and the naive SQL of
bench/naive.py (3 warm-up calls, then the median and p95 of 30), checks that both give the
same answers, and prints a markdown table. The tables also go to bench/results/<time>.md.

Each size runs in a child process of its own, so settings and connections start clean.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")

WARMUP, REPEAT = 3, 30
STREAK_DAYS = 7
# The targets are set for a million awards; smaller sizes show how the cost grows.
TARGET_SIZE = 1_000_000


def endpoints(naive, time_zone: str, users: int) -> list[dict]:
    """What is measured: label, the endpoint's path, the naive equivalent, the target (ms)."""
    middle = users // 2
    return [
        {
            "label": "most-achievements",
            "path": "most-achievements/",
            "naive": naive.most_achievements,
            "target": 20,
        },
        {"label": "most-points", "path": "most-points/", "naive": naive.most_points, "target": 20},
        {
            "label": "max-points-gap",
            "path": "max-points-gap/",
            "naive": naive.max_points_gap,
            "target": 20,
        },
        {
            "label": "min-points-gap",
            "path": "min-points-gap/",
            "naive": naive.min_points_gap,
            "target": 150,
        },
        {
            "label": f"streaks?days={STREAK_DAYS}",
            "path": f"streaks/?days={STREAK_DAYS}",
            "naive": lambda: naive.streaks(STREAK_DAYS, time_zone),
            "target": 20,
        },
        {
            "label": "leaderboard?by=points (first page)",
            "path": "leaderboard/?by=points",
            "naive": lambda: naive.leaderboard("points"),
            "target": 20,
        },
        {
            "label": "leaderboard?by=achievements (first page)",
            "path": "leaderboard/?by=achievements",
            "naive": lambda: naive.leaderboard("achievements"),
            "target": 20,
        },
        {
            "label": f"leaderboard?by=points&offset={middle} (a middle page)",
            "path": f"leaderboard/?by=points&offset={middle}",
            "naive": lambda: naive.leaderboard("points", offset=middle),
            "target": None,
        },
        {
            "label": "achievements (first page)",
            "path": "achievements/",
            "naive": naive.achievements,
            "target": None,
        },
        {
            "label": "stats/ (summary)",
            "path": "",
            "naive": lambda: naive.summary(STREAK_DAYS, time_zone),
            "target": 200,
        },
    ]


def comparable(path: str, body: dict) -> dict:
    """The part of an endpoint's answer the naive SQL also computes."""
    if path.startswith(("streaks/", "leaderboard/")):
        return {"count": body["count"], "results": body["results"]}
    if path.startswith("achievements/"):
        fields = ("code", "points", "holders", "holders_percent")
        return {
            "count": body["count"],
            "results": [{f: row[f] for f in fields} for row in body["results"]],
        }
    if path == "":
        streaks = {k: v for k, v in body["streaks"].items() if k not in ("next", "previous")}
        return {**body, "streaks": streaks}
    return body


def timed(call, repeat: int = REPEAT, warmup: int = WARMUP) -> tuple[list[float], object]:
    """Milliseconds of `repeat` calls after `warmup` untimed ones, and the last answer."""
    for _ in range(warmup):
        answer = call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, answer


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


# The child: one size, in a database of its own --------------------------------------------------


def run_size(awards: int, out: Path, explain_all: bool) -> None:
    import warnings

    import django

    # WhiteNoise warns that static files were not collected; the API does not need them.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from achievements.models import Award
    from bench import naive
    from users.models import User

    assert connection.vendor == "postgresql", "the benchmark needs DATABASE_URL on PostgreSQL"
    users = max(1, awards // 10)
    call_command("migrate", verbosity=0)
    print(f"seeding {awards:,} awards over {users:,} users ...", flush=True)
    started = time.perf_counter()
    call_command("seed_demo_data", users=users, awards=awards, seed=1, verbosity=1)
    seed_s = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    vacuum_s = time.perf_counter() - started

    # Measure like production: no query log, a persistent connection, any host name.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    connection.settings_dict["CONN_MAX_AGE"] = None
    client = Client()

    rows, mismatches, plans = [], [], {}
    for endpoint in endpoints(naive, settings.TIME_ZONE, User.objects.count()):
        url = f"/api/v1/stats/{endpoint['path']}"

        def fast(url=url):
            response = client.get(url, secure=True)
            assert response.status_code == 200, (url, response.status_code, response.content)
            return response.json()

        fast_ms, fast_answer = timed(fast)
        naive_ms, naive_answer = timed(endpoint["naive"])
        if comparable(endpoint["path"], fast_answer) != naive_answer:
            mismatches.append(
                {
                    "endpoint": endpoint["label"],
                    "fast": comparable(endpoint["path"], fast_answer),
                    "naive": naive_answer,
                }
            )
        row = {
            "label": endpoint["label"],
            "target": endpoint["target"],
            "fast_median": statistics.median(fast_ms),
            "fast_p95": p95(fast_ms),
            "naive_median": statistics.median(naive_ms),
            "naive_p95": p95(naive_ms),
        }
        rows.append(row)
        print(
            f"  {row['label']:<48} fast {row['fast_median']:9.2f} ms"
            f"   naive {row['naive_median']:9.2f} ms",
            flush=True,
        )
        if explain_all or verdict(row, awards).startswith("MISSED"):
            plans[endpoint["label"]] = explain(fast, CaptureQueriesContext, connection)

    out.write_text(
        json.dumps(
            {
                "load": os.getloadavg()[0],
                "awards_asked": awards,
                "users_asked": users,
                "awards": Award.objects.count(),
                "users": User.objects.count(),
                "seed_s": seed_s,
                "vacuum_s": vacuum_s,
                "time_zone": settings.TIME_ZONE,
                "server": connection.cursor().connection.info.parameter_status("server_version"),
                "rows": rows,
                "mismatches": mismatches,
                "plans": plans,
            },
            default=str,
        )
    )


def explain(call, capture, connection) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every query one call of the endpoint runs."""
    with capture(connection) as captured:
        call()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            plan = "\n".join(line for (line,) in cursor.fetchall())
            plans.append(f"{query['sql']}\n{plan}")
    return plans


# The parent: databases, children, the report ------------------------------------------------


def database_urls(url: str, awards: int) -> tuple[str, str, str]:
    """(the size's database name, its URL, the URL of the server's `postgres` database)."""
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'bench'}_{awards}"
    return (
        name,
        urlunsplit(parts._replace(path=f"/{name}")),
        urlunsplit(parts._replace(path="/postgres")),
    )


def database_recreate(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def verdict(row: dict, awards: int) -> str:
    if row["target"] is None:
        return "(no target)"
    if awards < TARGET_SIZE:
        return "(targets are for 1M)"
    problems = []
    if row["fast_median"] > row["target"]:
        problems.append(f"over {row['target']} ms")
    if row["naive_median"] < 10 * row["fast_median"]:
        problems.append("under 10x")
    return "MISSED: " + ", ".join(problems) if problems else "met"


def target_text(target: int | None) -> str:
    return "-" if target is None else f"≤ {target} ms, ≥ 10x"


def report(result: dict) -> str:
    lines = [
        f"### {result['awards']:,} awards, {result['users']:,} users",
        "",
        f"Seeding (`seed_demo_data --users {result['users_asked']} --awards "
        f"{result['awards_asked']} --seed 1`, demo data included): **{result['seed_s']:.1f} s**; "
        f"VACUUM ANALYZE after it: {result['vacuum_s']:.1f} s. "
        f"TIME_ZONE {result['time_zone']}, PostgreSQL {result['server']}. "
        f"Load average (1 min) after the measurements: {result['load']:.2f}.",
        "",
        "| endpoint | fast median ms | fast p95 ms | naive median ms | naive p95 ms | ratio "
        "| target | |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in result["rows"]:
        ratio = row["naive_median"] / row["fast_median"]
        lines.append(
            f"| {row['label']} | {row['fast_median']:.2f} | {row['fast_p95']:.2f} "
            f"| {row['naive_median']:.2f} | {row['naive_p95']:.2f} | {ratio:.1f}x "
            f"| {target_text(row['target'])} | {verdict(row, result['awards_asked'])} |"
        )
    if result["mismatches"]:
        lines += ["", "**ANSWERS DIFFER between the endpoint and the naive SQL:**", ""]
        for mismatch in result["mismatches"]:
            lines.append(f"- {mismatch['endpoint']}: fast {mismatch['fast']!r}")
            lines.append(f"  naive {mismatch['naive']!r}")
    else:
        lines += ["", "Every endpoint's answer equals the naive SQL's."]
    return "\n".join(lines)


def plans_text(result: dict) -> str:
    if not result["plans"]:
        return ""
    parts = [f"#### Plans at {result['awards']:,} awards", ""]
    for label, plans in result["plans"].items():
        parts += [f"{label}:", "", "```", *plans, "```", ""]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="awards per run, comma-separated"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--explain-all",
        action="store_true",
        help="record query plans for every endpoint, not only those that miss a target",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        run_size(args.child, args.out, args.explain_all)
        return 0

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error(
            "set DATABASE_URL to a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1/bench"
        )
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    started_at = datetime.now(UTC)
    header = [
        f"## Stats benchmark, {started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"`{' '.join(['python', 'bench/stats_benchmark.py', *sys.argv[1:]])}` on "
        f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        f"Fast = the endpoint through django.test.Client (URL routing, view, JSON); naive = the "
        f"SQL of bench/naive.py only, so the ratios understate the difference. Median and p95 "
        f"of {REPEAT} calls after {WARMUP} warm-up calls. Load average at the start: "
        f"{' '.join(f'{load:.2f}' for load in os.getloadavg())}.",
        "",
    ]
    print("\n".join(header), flush=True)
    sections, failed = [], False
    for awards in sizes:
        name, size_url, admin_url = database_urls(url, awards)
        print(f"== {awards:,} awards: database {name}", flush=True)
        database_recreate(admin_url, name)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = Path(handle.name)
        try:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(awards), "--out", str(out)]
                + (["--explain-all"] if args.explain_all else []),
                # Warnings only: the seeding logs every demo achievement and user at INFO.
                env={"LOG_LEVEL": "WARNING", **os.environ, "DATABASE_URL": size_url},
                check=False,
            )
            if child.returncode != 0:
                print(f"!! the run at {awards:,} awards failed ({child.returncode})")
                failed = True
                continue
            result = json.loads(out.read_text())
        finally:
            out.unlink(missing_ok=True)
            if not args.keep:
                database_drop(admin_url, name)
        table = report(result)
        print("\n" + table + "\n", flush=True)
        if result["mismatches"]:
            print("!!!!!!!! MISMATCH: the endpoints and the naive SQL disagree (see above)")
            failed = True
        sections += [table, "", plans_text(result)]

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started_at:%Y%m%dT%H%M%SZ}.md"
    path.write_text("\n".join(header + sections) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
