"""A webhook receiver on loopback for the tests: records what arrives, answers as told."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.helpers import LOOPBACK
from webhooks.models import Delivery
from webhooks.worker import Worker


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """`with Receiver(answer) as receiver:` serves on a free loopback port. `answer(n)` gives
    the status for the n-th request (0-based); it may block to play a hanging receiver.
    `keep_alive` answers in HTTP/1.1, keeping connections open; `connections` counts them."""

    def __init__(
        self,
        answer: Callable[[int], int] = lambda n: 200,
        path: str = "/hook",
        keep_alive: bool = False,
    ):
        self.answer = answer
        self.path = path
        self.received: list[Received] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.connections += 1

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                with receiver._lock:
                    index = len(receiver.received)
                    receiver.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver._arrived.notify_all()
                status = receiver.answer(index)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}{self.path}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """What arrived once at least `count` requests have (or the timeout passed)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def work() -> int:
    """What a worker does until nothing more is ready (in this thread, one task at a time):
    plan, claim, run. Returns how many delivery attempts were made."""
    before = sum(Delivery.objects.values_list("attempts", flat=True))
    worker = Worker(name="test-worker", threads=1, poll=0, heartbeat=60)
    while worker.run_once():
        pass
    return sum(Delivery.objects.values_list("attempts", flat=True)) - before


def make_due() -> None:
    """Let every retry delay pass."""
    now = timezone.now()
    Delivery.objects.filter(status=Delivery.PENDING).update(next_attempt_at=now)
    DBTaskResult.objects.filter(status="READY").update(run_after=now)
