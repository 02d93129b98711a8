"""Median milliseconds and CPU milliseconds per call of `stats/achievements/` and three
leaderboard pages (first, offset 50,000, and the `after` cursor the offset-49,950 page links
to), through Django's test client and the full middleware, against a seeded database. Run it
from the checkout to measure (see bench/load/inprocess.py for the settings):

    cd CHECKOUT && DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench1m \\
        CACHE_URL=redis://127.0.0.1:6379/5 DEBUG=0 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 \\
        SECURE_SSL_REDIRECT=0 ENV_FILE= /path/to/.venv/bin/python /path/to/bench/reads_inprocess.py

Each read is called 30 times to warm up, then 200 times; CPU is this process's only (the
database's is not in it). Names on the command line pick reads (default: all four).
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "achievements_site.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

BOARD = "/api/v1/stats/leaderboard/?by=points"


def main() -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    linked = json.loads(client.get(f"{BOARD}&offset=49950&limit=50").content)["next"]
    paths = {
        "stats/achievements": "/api/v1/stats/achievements/",
        "leaderboard first": BOARD,
        "leaderboard offset 50000": f"{BOARD}&offset=50000",
        "leaderboard after deep": linked,
    }
    for name in sys.argv[1:] or list(paths):
        path = paths[name]
        for _ in range(30):
            assert client.get(path).status_code == 200
        walls = []
        started = time.process_time()
        for _ in range(200):
            before = time.perf_counter()
            client.get(path)
            walls.append((time.perf_counter() - before) * 1000)
        cpu = (time.process_time() - started) / 200 * 1000
        print(f"{name:26s} median {statistics.median(walls):6.2f} ms, CPU {cpu:5.2f} ms per call")


if __name__ == "__main__":
    main()
