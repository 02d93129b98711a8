"""`python manage.py worker`: plan and send webhook deliveries until SIGTERM or SIGINT.

Any number may run at once (they split the work with row claims). On SIGTERM the attempts in
hand are finished and recorded, then the worker exits. `worker --check` exits 0 when a worker
has reported within WORKER_HEARTBEAT_SECONDS x 3, 1 otherwise (a container health check).
"""

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from webhooks.selectors import workers_alive
from webhooks.services import deliveries_work, worker_heartbeat, worker_heartbeat_forget

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send webhook deliveries until stopped (SIGTERM finishes the attempts in hand)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Exit 0 if a worker is running, 1 if none."
        )

    def handle(self, *args, check=False, **options):
        heartbeat = settings.WORKER_HEARTBEAT_SECONDS
        if check:
            alive = workers_alive(within=timedelta(seconds=heartbeat * 3))
            if not alive:
                raise CommandError("No worker has reported recently.")
            self.stdout.write(f"{len(alive)} worker(s) running: {', '.join(sorted(alive))}")
            return
        stop = threading.Event()

        def request_stop(signum, frame):
            logger.info("worker: signal %s, stopping after the attempts in hand", signum)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        name = f"{socket.gethostname()}:{os.getpid()}"
        logger.info("worker %s started", name)
        last_beat = 0.0
        with ThreadPoolExecutor(settings.WORKER_THREADS) as pool:
            while not stop.is_set():
                try:
                    if time.monotonic() - last_beat >= heartbeat:
                        worker_heartbeat(name=name)
                        last_beat = time.monotonic()
                    if deliveries_work(limit=settings.WORKER_BATCH, run=pool.map):
                        continue
                except DatabaseError as exc:
                    # The database is away (restart, failover): wait and try again; nothing
                    # claimed is lost, its lease runs out and it is due again.
                    logger.warning("worker: database unavailable (%s); retrying", exc)
                    connection.close()
                    stop.wait(settings.WORKER_POLL_SECONDS * 4)
                    continue
                stop.wait(settings.WORKER_POLL_SECONDS)
        with contextlib.suppress(DatabaseError):
            worker_heartbeat_forget(name=name)
        logger.info("worker %s stopped", name)
