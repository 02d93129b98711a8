#!/usr/bin/env python
"""Benchmark webhook deliveries and their cost to API writes, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_hooks \\
        .venv/bin/python bench/webhooks_benchmark.py --rate 300 --seconds 20 --endpoints 10

Migrates the database, then runs two phases of award writes (`POST
/users/{u}/achievements/` through django.test.Client, paced at --rate per second for
--seconds, one write per fresh user):

1. off: no endpoint registered, no worker;
2. on: --endpoints endpoints pointing at a local receiver (its own process, answering 204 and
   logging the arrival time of every message), --workers `manage.py worker` processes.

It prints the achieved write rate and the write latency (median, p95, p99) of both phases, and
for phase 2 the delay from a write's commit (its response) to each of its deliveries' arrival
(median, p95, p99, max) and how many deliveries arrived. Everything runs on this one machine.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "1")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "1")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def receive(port_out, log_path: str) -> None:
    """The receiver process: logs `<user> <arrival time>` per message, answers 204."""
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            arrived = time.time()
            user = json.loads(body)["data"].get("user", "-")
            with lock:
                log.write(f"{user} {arrived}\n")
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    server.serve_forever()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"median {statistics.median(ms):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
        f"p99 {percentile(ms, 99):.1f} ms"
    )


def write_phase(client, achievement: str, prefix: str, rate: float, seconds: float):
    """Paced grants; returns (latencies, {username: commit time}, achieved rate)."""
    from users.services import user_create

    total = int(rate * seconds)
    names = [f"{prefix}{i:06d}" for i in range(total)]
    for name in names:
        user_create(username=name)
    latencies, committed = [], {}
    started = time.perf_counter()
    for i, name in enumerate(names):
        due = started + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        before = time.perf_counter()
        response = client.post(
            f"/api/v1/users/{name}/achievements/",
            {"achievement": achievement},
            content_type="application/json",
        )
        latencies.append(time.perf_counter() - before)
        committed[name] = time.time()
        assert response.status_code == 201, response.content
    achieved = total / (time.perf_counter() - started)
    return latencies, committed, achieved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from achievements.services.catalog import achievement_create
    from webhooks.models import Delivery, Endpoint
    from webhooks.services import endpoint_create

    call_command("migrate", verbosity=0)
    Endpoint.objects.all().delete()
    account, _ = get_user_model().objects.get_or_create(username="bench-hooks", is_superuser=True)
    client = Client()
    client.force_login(account)
    run = f"{int(time.time())}"
    code = achievement_create(
        code=f"bench-{run}", points=5, names={"en": "Bench"}, descriptions={"en": "Bench"}
    ).code

    off_latency, _, off_rate = write_phase(client, code, f"off{run}-", args.rate, args.seconds)

    log_path = tempfile.mktemp(prefix="hooks-receiver-", suffix=".log")
    parent, child = multiprocessing.Pipe()
    receiver = multiprocessing.Process(target=receive, args=(child, log_path), daemon=True)
    receiver.start()
    port = parent.recv()
    for _ in range(args.endpoints):
        endpoint_create(owner=account, url=f"http://127.0.0.1:{port}/hook")
    env = {
        **os.environ,
        "WORKER_POLL_SECONDS": "0.1",
        "WORKER_THREADS": "16",
        "WORKER_BATCH": "200",
    }
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=env)
        for _ in range(args.workers)
    ]
    try:
        time.sleep(2)
        on_latency, committed, on_rate = write_phase(
            client, code, f"on{run}-", args.rate, args.seconds
        )
        expected = len(committed) * args.endpoints
        deadline = time.time() + 300
        while time.time() < deadline:
            arrived = Path(log_path).read_text().count("\n")
            if arrived >= expected:
                break
            time.sleep(0.5)
        drained_at = time.time()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(60)
        receiver.terminate()

    delays = []
    for line in Path(log_path).read_text().splitlines():
        user, arrived = line.split()
        if user in committed:
            delays.append(float(arrived) - committed[user])
    pending = Delivery.objects.exclude(status=Delivery.DELIVERED).count()
    print(f"writes: {args.rate:.0f}/s asked for {args.seconds:.0f} s; {args.endpoints} endpoints")
    print(f"off: achieved {off_rate:.0f} writes/s; write latency {summary(off_latency)}")
    print(f"on:  achieved {on_rate:.0f} writes/s; write latency {summary(on_latency)}")
    print(
        f"deliveries: {len(delays)} of {expected} arrived, {pending} not delivered; "
        f"commit-to-receipt {summary(delays)}, max {max(delays) * 1000:.0f} ms; "
        f"all in {drained_at - min(committed.values()):.1f} s after the first write"
    )


if __name__ == "__main__":
    main()
