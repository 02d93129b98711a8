"""`manage.py worker` as a real process against a private PostgreSQL cluster and a receiver on
loopback: it delivers everything, survives SIGKILL and a database outage without losing a
delivery, stops cleanly on SIGTERM, several share the work without sending anything twice, and
`worker --check` tells whether one runs."""

import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.helpers import REPO_ROOT
from tests.reliability.processes import (
    app_environment,
    manage,
    migrated_cluster,
)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e

WAIT = 90


@pytest.fixture(scope="module")
def cluster():
    with migrated_cluster() as cluster:
        yield cluster


@pytest.fixture
def env(cluster):
    with psycopg.connect(cluster.url(), autocommit=True) as db:
        # A clean slate for each test: no endpoints, deliveries or workers left over.
        db.execute(
            "TRUNCATE webhooks_delivery, webhooks_endpoint, webhooks_workerheartbeat, "
            "django_tasks_database_dbtaskresult"
        )
    return app_environment(
        cluster.url(),
        WEBHOOK_ALLOW_HTTP="1",
        WEBHOOK_ALLOW_PRIVATE="1",
        WORKER_POLL_SECONDS="0.2",
        WORKER_HEARTBEAT_SECONDS="1",
        DB_CONNECT_TIMEOUT="1",
    )


def setup(env, url: str, grants: int) -> None:
    """An endpoint for `url`, then `grants` awards through the service."""
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from tests.factories import AchievementFactory, UserFactory\n"
        "from achievements.services.awards import award_grant\n"
        "from webhooks.services import endpoint_create\n"
        "owner, _ = get_user_model().objects.get_or_create(username='hooks-owner')\n"
        f"endpoint_create(owner=owner, url={url!r})\n"
        "import uuid\n"
        "tag = uuid.uuid4().hex[:8]\n"
        "owl = AchievementFactory(code=f'owl-{tag}')\n"
        f"for i in range({grants}):\n"
        "    award_grant(user=UserFactory(username=f'u{tag}-{i}'), achievement=owl)\n",
    )


def start_worker(env, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def statuses(cluster) -> dict[str, int]:
    with psycopg.connect(cluster.url()) as db:
        rows = db.execute("SELECT status, count(*) FROM webhooks_delivery GROUP BY status")
        return dict(rows.fetchall())


def heartbeats(cluster) -> int:
    with psycopg.connect(cluster.url()) as db:
        return db.execute("SELECT count(*) FROM webhooks_workerheartbeat").fetchone()[0]


def wait_until(condition, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def slowly(n: int) -> int:
    time.sleep(0.02)
    return 200


def ids(receiver: Receiver) -> set[str]:
    return {r.headers["webhook-id"] for r in receiver.received}


def test_a_worker_killed_mid_batch_loses_no_delivery(cluster, env, tmp_path):
    with Receiver(slowly) as receiver, open(tmp_path / "worker.log", "wb") as log:
        setup(env, receiver.url, grants=150)
        worker = start_worker(env, log)
        try:
            assert wait_until(lambda: len(receiver.received) >= 20)
            worker.kill()  # SIGKILL: no chance to record the batch in hand
            worker.wait(10)
            assert len(ids(receiver)) < 150
            worker = start_worker(env, log)
            assert wait_until(lambda: statuses(cluster) == {"delivered": 150})
        finally:
            worker.terminate()
            worker.wait(30)

    assert len(ids(receiver)) == 150


def test_several_workers_split_the_deliveries_and_send_each_once(cluster, env, tmp_path):
    env = {**env, "WORKER_BATCH": "5", "WORKER_THREADS": "2"}
    with Receiver(slowly) as receiver, open(tmp_path / "worker.log", "wb") as log:
        workers = [start_worker(env, log) for _ in range(3)]
        try:
            # All three are polling before the first grant, so the work is there to split.
            assert wait_until(lambda: heartbeats(cluster) == 3)
            setup(env, receiver.url, grants=120)
            assert wait_until(lambda: statuses(cluster) == {"delivered": 120})
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)

    sent = [r.headers["webhook-id"] for r in receiver.received]
    assert len(sent) == len(set(sent)) == 120
    with psycopg.connect(cluster.url()) as db:
        ran_by = db.execute(
            "SELECT worker_ids->>0, count(*) FROM django_tasks_database_dbtaskresult GROUP BY 1"
        ).fetchall()
    assert len(ran_by) > 1, f"one worker ran every task: {ran_by}"


def test_deliveries_pending_through_a_database_outage_all_arrive(cluster, env, tmp_path):
    with Receiver(slowly) as receiver, open(tmp_path / "worker.log", "wb") as log:
        setup(env, receiver.url, grants=80)
        worker = start_worker(env, log)
        try:
            assert wait_until(lambda: len(receiver.received) >= 10)
            cluster.stop("immediate")
            time.sleep(4)
            assert worker.poll() is None, "the worker died with the database"
            cluster.start()
            assert wait_until(lambda: statuses(cluster) == {"delivered": 80})
        finally:
            worker.terminate()
            worker.wait(30)

    assert len(ids(receiver)) == 80


def test_sigterm_finishes_the_attempt_in_hand_then_exits(cluster, env, tmp_path):
    arrived = threading.Event()

    def hold(n: int) -> int:
        arrived.set()
        time.sleep(2)
        return 200

    with Receiver(hold) as receiver, open(tmp_path / "worker.log", "wb") as log:
        setup(env, receiver.url, grants=1)
        worker = start_worker(env, log)
        assert arrived.wait(WAIT)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)

    assert code == 0
    assert statuses(cluster) == {"delivered": 1}


def test_worker_check_tells_whether_a_worker_runs(cluster, env, tmp_path):
    def check() -> int:
        return subprocess.run(
            [sys.executable, "manage.py", "worker", "--check"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        ).returncode

    assert check() == 1
    with open(tmp_path / "worker.log", "wb") as log:
        worker = start_worker(env, log)
        try:
            assert wait_until(lambda: check() == 0, timeout=60)
        finally:
            worker.terminate()
            worker.wait(30)
    assert check() == 1
