"""Issue 17's load benchmark: gunicorn (the repo's gunicorn.conf.py) driven by wrk on loopback,
against PostgreSQL holding 100k users and 1M awards. Not a test.

    .venv/bin/python bench/load/run.py                     # seeds `loadbench` on first use
    .venv/bin/python bench/load/run.py --database NAME     # reuse (or seed) another database
    .venv/bin/python bench/load/run.py --runs 3 --duration 20
    .venv/bin/python bench/load/run.py --scenarios user_awards,drf_floor
    .venv/bin/python bench/load/run.py --compare /path/to/other/checkout   # before vs after
    .venv/bin/python bench/load/run.py --app-server granian   # after pip install granian

gunicorn runs as compose runs it, without its own access line (nginx writes it there).

Each run starts gunicorn once and plays every scenario in turn; `--runs` runs give the
min/median/max of requests/s (with `--compare`, the two checkouts alternate run by run, so both
see the same load). Per scenario it also reports a CPU cost model, in milliseconds of CPU per
request: the gunicorn processes (workers and the master, recycled workers included), the
PostgreSQL backends serving the benchmark database (sampled from /proc; a backend that exits
during a scenario is missed), and wrk itself. wrk and the server share the machine's cores, so
requests/s is what the machine does with both; the CPU figures do not depend on that. The
throughput scenarios also get their requests/s as a share of the minimal DRF view's in the same
run, which moves much less than requests/s from one machine to another (issue 17's machines gave
DRF floors from 1,644 to 2,882 req/s).

Scenarios: user_awards (GET a random user's awards), drf_floor and django_floor (a minimal DRF
view and a minimal Django view, served by bench.load.urls only, through the same middleware),
award_writes (POST distinct (user, achievement) pairs, all 201, to achievements made for the
run), stats_achievements, leaderboard_first, leaderboard_deep (offset 50,000) and
leaderboard_keyset (a deep page by `?after=`, skipped when the leaderboard's links carry no
`after`). The latency scenarios (stats and leaderboards) run on one connection: their p50 is
the time one request takes. Afterwards `rebuild_stats --check` must find every figure exact.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
WRK_DIR = Path(__file__).resolve().parent / "wrk"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = ["-t2", "-c16", "-d3s", "-H", "Host: 127.0.0.1", "-s"]
PYTHON = str(ROOT / ".venv/bin/python")
# The application servers the harness can start; gunicorn is the service's own. granian is not
# a dependency: `--app-server granian` needs `.venv/bin/pip install granian` first, and takes its
# workers and threads from GRANIAN_WORKERS and GRANIAN_BLOCKING_THREADS (default 2 and 1).
SERVER_COMMANDS = {
    "gunicorn": [
        PYTHON,
        "-m",
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "achievements_site.wsgi",
    ],
    "granian": [
        PYTHON,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--no-access-log",
        "achievements_site.wsgi:application",
    ],
}

THROUGHPUT = {"user_awards", "drf_floor", "django_floor", "award_writes"}
SCENARIOS = {
    "user_awards": ("GET /api/v1/users/{username}/achievements/", "user_awards.lua", None),
    "drf_floor": ("GET a minimal DRF view (floor)", "get.lua", "/api/v1/bench-floor/drf/"),
    "django_floor": (
        "GET a minimal Django view (floor)",
        "get.lua",
        "/api/v1/bench-floor/django/",
    ),
    "award_writes": ("POST /api/v1/users/{username}/achievements/ (201)", "award_new.lua", None),
    "stats_achievements": (
        "GET /api/v1/stats/achievements/ (1 connection)",
        "get.lua",
        "/api/v1/stats/achievements/",
    ),
    "leaderboard_first": (
        "GET /api/v1/stats/leaderboard/?by=points (1 connection)",
        "get.lua",
        "/api/v1/stats/leaderboard/?by=points",
    ),
    "leaderboard_deep": (
        "GET …/leaderboard/?by=points&offset=50000 (1 connection)",
        "get.lua",
        "/api/v1/stats/leaderboard/?by=points&offset=50000",
    ),
    "leaderboard_keyset": ("GET …/leaderboard/?by=points&after=… (1 connection)", "get.lua", None),
}


def sh(*args, **kwargs) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def psql(url: str, query: str) -> str:
    return sh("psql", url, "-tAXc", query).strip()


def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (and, with `children`, of its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


class Server:
    """gunicorn from a checkout, with the bench URLconf (the floor views) on top."""

    def __init__(self, checkout: Path, env: dict, log_dir: Path, port: int, kind="gunicorn"):
        self.checkout, self.env, self.port = checkout, env, port
        self.log = open(log_dir / f"{kind}-{checkout.name}-{time.time_ns()}.log", "w")  # noqa: SIM115
        bench_env = {
            **env,
            # The bench-only site (loadbench_site) from this checkout, the app from `checkout`.
            "PYTHONPATH": str(ROOT / "bench" / "load"),
            "DJANGO_SETTINGS_MODULE": "loadbench_site.settings",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GRANIAN_HOST": "127.0.0.1",
            "GRANIAN_PORT": str(port),
            # One thread per worker unless asked: each thread holds a database connection.
            "GRANIAN_WORKERS": env.get("GRANIAN_WORKERS", "2"),
            "GRANIAN_BLOCKING_THREADS": env.get("GRANIAN_BLOCKING_THREADS", "1"),
        }
        self.process = subprocess.Popen(
            SERVER_COMMANDS[kind],
            cwd=checkout,
            env=bench_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(150):
            try:
                self.get("/readyz")
                break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise SystemExit(f"{kind} did not start; see {self.log.name}")

    def get(self, path: str) -> bytes:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Host": "127.0.0.1"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def cpu(self) -> float:
        pid = self.process.pid
        return proc_cpu(pid, children=True) + sum(proc_cpu(child) for child in children_of(pid))

    def workers(self) -> int:
        return len(children_of(self.process.pid))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def database_cpu(url: str) -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend connected to the benchmark database."""
    name = urlsplit(url).path.lstrip("/")
    pids = psql(url, f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'").split()
    return {int(pid): proc_cpu(int(pid)) for pid in pids}


def wrk(args, env: dict) -> tuple[dict, float]:
    """Run wrk; its RESULT line and the CPU seconds it used."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            ["wrk", *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode:
        raise SystemExit(f"wrk failed:\n{text}")
    line = next(line for line in text.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), usage.ru_utime + usage.ru_stime


def keyset_path(server: Server) -> str | None:
    """A deep leaderboard page by `?after=`, from the link the offset page names, if any."""
    body = json.loads(server.get("/api/v1/stats/leaderboard/?by=points&offset=49950&limit=50"))
    link = body.get("next") or ""
    if "after=" not in link:
        return None
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def new_achievements(server_env: dict, run: str, count: int) -> list[str]:
    """Achievements nobody holds yet, made through the domain functions, for 201-only writes."""
    codes = [f"bench-w-{run}-{i}" for i in range(count)]
    script = (
        "from achievements.services.catalog import achievement_create\n"
        f"for code in {codes!r}:\n"
        "    achievement_create(code=code, points=10, names={'en': code}, "
        "descriptions={'en': 'Made by bench/load/run.py.'})\n"
    )
    subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=server_env,
        check=True,
    )
    return codes


def play(server, name, args, env, db_url) -> dict:
    path = SCENARIOS[name][2]
    if name == "leaderboard_keyset":
        path = keyset_path(server)
        if path is None:
            return {"skipped": "the leaderboard's links carry no `after=` yet"}
    connections = args.connections if name in THROUGHPUT else 1
    threads = args.threads if name in THROUGHPUT else 1
    wrk_env = {**env, "BENCH_PATH": path or "", "BENCH_THREADS": str(threads)}
    before_app, before_db = server.cpu(), database_cpu(db_url)
    result, wrk_cpu = wrk(
        [
            "--latency",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{args.duration}s",
            "--timeout",
            "10s",
            "-H",
            "Host: 127.0.0.1",
            "-s",
            str(WRK_DIR / SCENARIOS[name][1]),
            f"http://127.0.0.1:{server.port}",
        ],
        wrk_env,
    )
    after_app, after_db = server.cpu(), database_cpu(db_url)
    db = sum(cpu - before_db.get(pid, 0.0) for pid, cpu in after_db.items())
    n = max(result["requests"], 1)
    result.update(
        app_ms=(after_app - before_app) * 1000 / n, db_ms=db * 1000 / n, wrk_ms=wrk_cpu * 1000 / n
    )
    return result


def one_run(checkout: Path, index: int, args, env: dict, log_dir: Path) -> dict:
    server = Server(checkout, env, log_dir, args.port, args.app_server)
    results = {"workers": server.workers(), "server": args.app_server}
    try:
        run_id = f"{int(time.time())}{index}"
        codes = new_achievements(env, run_id, 8)
        wrk_env = {**env, "BENCH_CODES": ",".join(codes), "BENCH_SEED": run_id}
        # Warm every worker (connections, caches of the language columns, the URL resolver).
        wrk(
            [*WARM_UP, str(WRK_DIR / "user_awards.lua"), f"http://127.0.0.1:{args.port}"],
            wrk_env,
        )
        for name in args.scenarios:
            results[name] = play(server, name, args, wrk_env, env["DATABASE_URL"])
            r = results[name]
            print(
                f"    {checkout.name} run {index + 1} {name}: "
                + (
                    r["skipped"]
                    if "skipped" in r
                    else f"{r['rps']:.0f}/s p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms "
                    f"app {r['app_ms']:.2f} db {r['db_ms']:.2f} wrk {r['wrk_ms']:.2f} ms/req "
                    f"statuses {r['statuses']}"
                ),
                flush=True,
            )
    finally:
        server.stop()
    return results


def spread(values, fmt="{:.0f}") -> str:
    values = sorted(values)
    if not values:
        return "-"
    return " / ".join(fmt.format(v) for v in (values[0], statistics.median(values), values[-1]))


def floor_share(runs: list[dict], name: str) -> str:
    """A throughput scenario's requests/s over the minimal DRF view's in the same run (median
    of the runs): a figure that a faster or slower machine moves much less than requests/s."""
    shares = [
        run[name]["rps"] / run["drf_floor"]["rps"]
        for run in runs
        if name in THROUGHPUT
        and "skipped" not in run.get(name, {"skipped": 1})
        and run.get("drf_floor", {}).get("rps")
    ]
    return f"{statistics.median(shares):.2f}" if shares else "-"


def table(label: str, runs: list[dict], scenarios: list[str]) -> None:
    print(f"\n#### {label}\n")
    print(
        "| scenario | req/s min / median / max | share of the DRF floor (median) | p50 ms (median) "
        "| p99 ms (median) | app CPU ms/req | db CPU ms/req | wrk CPU ms/req | non-2xx | statuses |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in scenarios:
        rows = [run[name] for run in runs if name in run and "skipped" not in run[name]]
        if not rows:
            print(f"| `{SCENARIOS[name][0]}` | skipped: {runs[0][name]['skipped']} |||||||||")
            continue
        statuses: dict[str, int] = {}
        for row in rows:
            for code, count in row["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
        median = statistics.median
        print(
            f"| `{SCENARIOS[name][0]}` | {spread([r['rps'] for r in rows])} "
            f"| {floor_share(runs, name)} "
            f"| {median(r['p50_ms'] for r in rows):.1f} | {median(r['p99_ms'] for r in rows):.1f} "
            f"| {median(r['app_ms'] for r in rows):.2f} | {median(r['db_ms'] for r in rows):.2f} "
            f"| {median(r['wrk_ms'] for r in rows):.2f} "
            f"| {sum(r['non_2xx'] + r['socket_errors'] for r in rows)} "
            f"| {', '.join(f'{c}: {n}' for c, n in sorted(statuses.items()))} |"
        )


def ensure_database(url: str, users: int, awards: int, env: dict) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    if psql(admin, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        psql(admin, f'CREATE DATABASE "{name}"')
    manage = [str(ROOT / ".venv/bin/python"), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = int(psql(url, "SELECT count(*) FROM users_user WHERE username LIKE 'bench-%'"))
    if seeded < users:
        print(f"==> Seeding {users} users and {awards} awards (seed 1)", flush=True)
        subprocess.run(
            [*manage, "seed_demo_data", f"--users={users}", f"--awards={awards}", "--seed=1"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        psql(url, "VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="loadbench", help="PostgreSQL database name")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--app-server", choices=sorted(SERVER_COMMANDS), default="gunicorn")
    parser.add_argument("--compare", type=Path, help="another checkout, played run by run too")
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    parser.add_argument(
        "--skip-check", action="store_true", help="no rebuild_stats --check (quick A/B only)"
    )
    args = parser.parse_args()
    args.scenarios = args.scenarios.split(",")
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.app_server == "granian" and subprocess.run([PYTHON, "-c", "import granian"]).returncode:
        raise SystemExit("granian is missing: .venv/bin/pip install granian")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    url = f"{args.server}/{args.database}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CACHE_URL": args.cache_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or os.urandom(32).hex(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        # As compose runs gunicorn: nginx, not gunicorn, writes the access line (set
        # GUNICORN_ACCESS_LOG=1 to measure with gunicorn's).
        "GUNICORN_ACCESS_LOG": os.environ.get("GUNICORN_ACCESS_LOG", "0"),
        # One client: no throttling.
        "THROTTLE_ANON_RATE": "",
        "THROTTLE_USER_RATE": "",
        "ENV_FILE": "",
        "BENCH_USERS": str(args.users),
    }
    started = time.monotonic()
    ensure_database(url, args.users, args.awards, env)
    env["BENCH_TOKEN"] = sh(
        str(ROOT / ".venv/bin/python"),
        "manage.py",
        "create_api_token",
        "loadbench",
        cwd=ROOT,
        env=env,
    ).strip()
    users, awards = psql(
        url,
        "SELECT (SELECT count(*) FROM users_user) || ' ' || "
        "(SELECT count(*) FROM achievements_award)",
    ).split()
    checkouts = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    log_dir = Path(tempfile.mkdtemp(prefix="loadbench-"))
    print(f"==> {args.runs} runs, {args.duration} s per scenario; logs in {log_dir}", flush=True)
    results: dict[Path, list[dict]] = {checkout: [] for checkout in checkouts}
    for index in range(args.runs):
        for checkout in checkouts if index % 2 == 0 else checkouts[::-1]:
            results[checkout].append(one_run(checkout, index, args, env, log_dir))

    check = subprocess.CompletedProcess([], 0)
    if not args.skip_check:
        print("==> rebuild_stats --check", flush=True)
        check = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "rebuild_stats", "--check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        print(check.stdout.strip(), check.stderr.strip(), sep="\n")
    load = os.getloadavg()[0]
    print(
        f"\nData: {users} users, {awards} awards before the run; {os.cpu_count()} CPUs shared by "
        f"wrk, gunicorn and PostgreSQL; load average {load:.2f}; wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s (latency scenarios -t1 -c1); "
        f"{args.runs} runs; {time.monotonic() - started:.0f} s in all."
    )
    for checkout in checkouts:
        runs = results[checkout]
        label = f"{checkout} ({runs[0]['workers']} {runs[0]['server']} workers)"
        table(label, runs, args.scenarios)
    if args.drop:
        admin = urlsplit(url)._replace(path="/postgres").geturl()
        psql(admin, f'DROP DATABASE "{args.database}"')
    if check.returncode:
        raise SystemExit("rebuild_stats --check found figures that differ")


if __name__ == "__main__":
    main()
