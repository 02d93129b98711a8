#!/usr/bin/env python
"""Benchmark webhook deliveries and their cost to API writes: gunicorn with the repo's
gunicorn.conf.py on loopback, PostgreSQL, `manage.py worker` processes, a local receiver.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webhooks_bench \\
        .venv/bin/python bench/webhooks_benchmark.py --rate 300 --seconds 20 --endpoints 10 \\
        --workers 2 --runs 3

It creates the database if missing (kept with --keep, reused on the next run), migrates, and
creates `rate x seconds` users once. Each run then has two phases of award writes (`POST
/users/{u}/achievements/` with an integration token, paced at --rate from --clients threads,
each phase granting a new achievement to every user):

- off: the --endpoints endpoints inactive, no worker running;
- on: the endpoints active, pointing at the receiver (its own process, HTTP/1.1 keep-alive,
  answering 204 and logging each message's arrival), --workers worker processes running.

It prints a markdown table (min / median / max over --runs) of the achieved write rate, the
write latency (median, p99) off and on and their ratio, the delay from a write's response (its
commit happened just before) to each of its deliveries' arrival (median, p99, max), how many
deliveries arrived, and CPU per unit, which load on a shared machine does not change: gunicorn's
workers per write (off and on) and the worker processes per delivery.
Not a test: nothing in `make test` runs it.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.appserver import cpu_seconds, ensure_database, gunicorn_start  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
os.environ.setdefault("DEBUG", "1")  # for the setup in this process only; gunicorn runs DEBUG=0
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The receiver is on loopback, over plain http.
os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "1")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "1")

HOST = "127.0.0.1"


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def receive(port_out, log_path: str) -> None:
    """The receiver process: logs `<user> <achievement> <arrival time>` per message, 204."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            arrived = time.time()
            data = json.loads(body)["data"]
            with lock:
                log.write(f"{data.get('user', '-')} {data.get('achievement', '-')} {arrived}\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    server.serve_forever()


def service_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_hex(32),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "0",
        "THROTTLE_ANON_RATE": "",
        "THROTTLE_USER_RATE": "",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }


def start_gunicorn(port: int, url: str) -> subprocess.Popen:
    return gunicorn_start(port, service_env(url))


def process_tree(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return {pid, *map(int, children.read_text().split())}
    except OSError:
        return {pid}


def cpu_of(pids: set[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def write_phase(port: int, token: str, code: str, users: list[str], rate: float, clients: int):
    """Paced grants of `code` to every user from `clients` threads; returns (latencies,
    {username: response time}, achieved rate)."""
    headers = {
        "Host": HOST,
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
    }
    body = json.dumps({"achievement": code})
    latencies: list[float] = []
    answered: dict[str, float] = {}
    lock = threading.Lock()
    started = time.perf_counter() + 0.2
    next_index = [0]
    errors: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= len(users) or errors:
                return
            pause = started + index / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            before = time.perf_counter()
            try:
                connection.request(
                    "POST", f"/api/v1/users/{users[index]}/achievements/", body, headers
                )
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
                connection.request(
                    "POST", f"/api/v1/users/{users[index]}/achievements/", body, headers
                )
                response = connection.getresponse()
                payload = response.read()
            after = time.perf_counter()
            if response.status != 201:
                errors.append(f"{response.status}: {payload[:300]!r}")
                return
            with lock:
                latencies.append(after - before)
                answered[users[index]] = time.time()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"a write failed: {errors[0]}")
    achieved = len(users) / (time.perf_counter() - started)
    return latencies, answered, achieved


def setup(users: int, endpoints: int):
    import django
    from django.core.management import call_command

    django.setup()
    from django.contrib.auth import get_user_model

    from achievements.accounts import integration_account_ensure
    from users.models import User
    from users.services import user_create
    from webhooks.models import Endpoint

    call_command("migrate", verbosity=0)
    token = integration_account_ensure(name="hooksbench")
    names = [f"hooksbench-{i:06d}" for i in range(users)]
    existing = set(
        User.objects.filter(username__startswith="hooksbench-").values_list("username", flat=True)
    )
    for name in names:
        if name not in existing:
            user_create(username=name)
    owner = get_user_model().objects.get(username="hooksbench")
    Endpoint.objects.filter(owner=owner).delete()
    return token, names, owner, endpoints


def endpoints_set(owner, count: int, url: str | None) -> None:
    """`count` endpoints to `url`, active; or, with no url, all of them inactive."""
    from webhooks.models import Endpoint
    from webhooks.services import endpoint_create, endpoint_update

    if url is None:
        for endpoint in Endpoint.objects.filter(owner=owner, active=True):
            endpoint_update(endpoint=endpoint, active=False)
        return
    Endpoint.objects.filter(owner=owner).delete()
    for _ in range(count):
        endpoint_create(owner=owner, url=url)


def one_run(args, port, token, names, owner, receiver_port, log_path, gunicorn, url) -> dict:
    from achievements.services.catalog import achievement_create
    from webhooks.models import Delivery

    def new_code() -> str:
        return achievement_create(
            code=f"hooksbench-{secrets.token_hex(4)}",
            points=5,
            names={"en": "Bench"},
            descriptions={"en": "Bench"},
        ).code

    result = {}
    endpoints_set(owner, args.endpoints, None)
    web = process_tree(gunicorn.pid)
    before = cpu_of(web)
    off_latency, _, off_rate = write_phase(port, token, new_code(), names, args.rate, args.clients)
    result["web_cpu_off"] = cpu_spent(before, cpu_of(web)) / len(names)

    endpoints_set(owner, args.endpoints, f"http://{HOST}:{receiver_port}/hook")
    env = {
        **service_env(url),
        "WORKER_POLL_SECONDS": "0.05",
        "WORKER_THREADS": str(args.worker_threads),
        "WORKER_BATCH": str(args.batch),
    }
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=env)
        for _ in range(args.workers)
    ]
    code = new_code()
    try:
        time.sleep(2)  # the workers start
        worker_before = cpu_of({w.pid for w in workers})
        before = cpu_of(web)
        on_latency, answered, on_rate = write_phase(
            port, token, code, names, args.rate, args.clients
        )
        result["web_cpu_on"] = cpu_spent(before, cpu_of(web)) / len(names)
        expected = len(answered) * args.endpoints
        deadline = time.time() + args.drain
        while time.time() < deadline:
            if Path(log_path).read_text().count(f" {code} ") >= expected:
                break
            time.sleep(0.5)
        worker_cpu = cpu_spent(worker_before, cpu_of({w.pid for w in workers}))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(60)
    delays = []
    for line in Path(log_path).read_text().splitlines():
        user, achievement, arrived = line.split()
        if achievement == code and user in answered:
            delays.append(float(arrived) - answered[user])
    result.update(
        off_rate=off_rate,
        on_rate=on_rate,
        off_p50=statistics.median(off_latency),
        off_p99=percentile(off_latency, 99),
        on_p50=statistics.median(on_latency),
        on_p99=percentile(on_latency, 99),
        delay_p50=statistics.median(delays) if delays else float("nan"),
        delay_p99=percentile(delays, 99) if delays else float("nan"),
        delay_max=max(delays) if delays else float("nan"),
        arrived=len(delays),
        expected=expected,
        undelivered=Delivery.objects.exclude(status=Delivery.DELIVERED).count(),
        worker_cpu=worker_cpu / max(1, len(delays)),
    )
    result["p50_ratio"] = result["on_p50"] / result["off_p50"]
    result["p99_ratio"] = result["on_p99"] / result["off_p99"]
    return result


def table(args, runs: list[dict]) -> str:
    def spread(key: str, scale: float = 1, digits: int = 0) -> str:
        values = sorted(run[key] * scale for run in runs)
        return " / ".join(
            f"{v:,.{digits}f}" for v in (values[0], statistics.median(values), values[-1])
        )

    rows = [
        ("writes/s achieved, off", spread("off_rate")),
        ("writes/s achieved, on", spread("on_rate")),
        ("write latency median, off (ms)", spread("off_p50", 1000, 1)),
        ("write latency median, on (ms)", spread("on_p50", 1000, 1)),
        ("write latency p99, off (ms)", spread("off_p99", 1000, 1)),
        ("write latency p99, on (ms)", spread("on_p99", 1000, 1)),
        ("on / off, median latency", spread("p50_ratio", 1, 2)),
        ("on / off, p99 latency", spread("p99_ratio", 1, 2)),
        ("commit → receipt median (ms)", spread("delay_p50", 1000)),
        ("commit → receipt p99 (ms)", spread("delay_p99", 1000)),
        ("commit → receipt max (ms)", spread("delay_max", 1000)),
        (
            "deliveries arrived / expected",
            " / ".join(f"{r['arrived']}/{r['expected']}" for r in runs),
        ),
        ("gunicorn CPU per write, off (ms)", spread("web_cpu_off", 1000, 2)),
        ("gunicorn CPU per write, on (ms)", spread("web_cpu_on", 1000, 2)),
        ("worker CPU per delivery (ms)", spread("worker_cpu", 1000, 3)),
    ]
    head = (
        f"{args.rate:.0f} writes/s asked for {args.seconds:.0f} s, {args.endpoints} endpoints, "
        f"{args.workers} worker(s) x {args.worker_threads} threads, batch {args.batch}; "
        f"{len(runs)} run(s), min / median / max\n\n"
    )
    lines = ["| measure | min / median / max |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return head + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-threads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--clients", type=int, default=16, help="client threads writing")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait for arrivals")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the database for next time")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (created if missing).")
    ensure_database(url)
    if not args.port:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            args.port = probe.getsockname()[1]
    started = time.perf_counter()
    try:
        token, names, owner, _ = setup(int(args.rate * args.seconds), args.endpoints)
        log_path = tempfile.mktemp(prefix="hooks-receiver-", suffix=".log")
        parent, child = multiprocessing.Pipe()
        receiver = multiprocessing.Process(target=receive, args=(child, log_path), daemon=True)
        receiver.start()
        receiver_port = parent.recv()
        gunicorn = start_gunicorn(args.port, url)
        runs = []
        try:
            for number in range(args.runs):
                run = one_run(
                    args, args.port, token, names, owner, receiver_port, log_path, gunicorn, url
                )
                runs.append(run)
                print(f"run {number + 1}: {json.dumps({k: round(v, 4) for k, v in run.items()})}")
        finally:
            gunicorn.terminate()
            gunicorn.wait(30)
            receiver.terminate()
            Path(log_path).unlink(missing_ok=True)
        print()
        print(table(args, runs))
        print(f"\n({time.perf_counter() - started:.0f} s in all)")
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(url)


if __name__ == "__main__":
    main()
