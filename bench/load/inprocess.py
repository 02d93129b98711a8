"""CPU per request in one process (time.process_time), through Django's test client and the
full middleware: the user awards list and the two floor views. Independent of how loaded the
machine is, unlike requests/s. Run it from the checkout to measure (the floor views come from
this file's bench/load/loadbench_site):

    cd CHECKOUT && DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadbench \\
        CACHE_URL=redis://127.0.0.1:6379/5 DEBUG=0 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 \\
        SECURE_SSL_REDIRECT=0 ENV_FILE= /path/to/.venv/bin/python /path/to/bench/load/inprocess.py

Prints the least CPU per request of 5 rounds of 200 requests, after 50 to warm up.
"""

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

from django.test import Client  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "100000"))
PATHS = {
    "user awards": lambda: f"/api/v1/users/bench-{random.randrange(USERS):07d}/achievements/",
    "minimal DRF view": lambda: "/api/v1/bench-floor/drf/",
    "minimal Django view": lambda: "/api/v1/bench-floor/django/",
}


def main() -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    random.seed(1)
    for name, path in PATHS.items():
        for _ in range(50):
            client.get(path())
        rounds = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(200):
                assert client.get(path()).status_code == 200
            rounds.append((time.process_time() - started) / 200 * 1000)
        print(f"{Path.cwd().name} {name}: {min(rounds):.2f} ms CPU per request")


if __name__ == "__main__":
    main()
