"""`python manage.py worker`: run background tasks (webhook deliveries) until SIGTERM or SIGINT.

Django's Tasks framework with its database backend (django-tasks, django-tasks-db); see
webhooks.worker. Any number may run at once: they claim tasks with SELECT ... FOR UPDATE SKIP
LOCKED. On SIGTERM the tasks in hand are finished and recorded, then the worker exits.
`worker --check` exits 0 when a worker has reported within WORKER_HEARTBEAT_SECONDS x 3, 1
otherwise (a container health check).
"""

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webhooks.selectors import workers_alive
from webhooks.worker import Worker


class Command(BaseCommand):
    help = "Run background tasks (webhook deliveries) until stopped; SIGTERM ends them first."

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
        worker = Worker(
            # The task rows' worker ids are at most 64 characters.
            name=f"{socket.gethostname()[:50]}:{os.getpid()}",
            threads=settings.WORKER_THREADS,
            poll=settings.WORKER_POLL_SECONDS,
            heartbeat=heartbeat,
        )
        worker.configure_signals()
        worker.run()
