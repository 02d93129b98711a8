"""The worker behind `manage.py worker`: django-tasks' database worker (django_tasks_db), run
with several tasks at once, plus what the webhooks need around it.

Each round it
- reports in (`WorkerHeartbeat`, read by `worker --check`);
- puts back to READY the tasks left RUNNING by a worker that stopped reporting (killed, or its
  machine lost), so they run again: a task is idempotent (see webhooks.services);
- plans new deliveries from the activity feed (`deliveries_plan`), which enqueues their tasks;
- claims up to one READY task per free thread, in one transaction, with the backend's own
  `SELECT ... FOR UPDATE SKIP LOCKED` (several workers never claim the same task), and runs them
  in its thread pool, each through the Tasks framework's signals and result rows.
A task interrupted by a database outage is put back to READY once the database answers again.
On SQLite (writes one at a time) the tasks run one by one in the main thread.
"""

import logging
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from types import FrameType

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus, task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from webhooks.selectors import workers_alive
from webhooks.services import deliveries_plan, worker_heartbeat, worker_heartbeat_forget

logger = logging.getLogger(__name__)

# Successful tasks are pruned after this: the deliveries, not the task rows, are the record.
RESULTS_KEPT = timedelta(hours=1)


class Worker(DatabaseWorker):
    """django_tasks_db's worker for the default backend and every queue, with a thread pool,
    claims in batches, the delivery planner, heartbeats and the recovery of dead workers'
    tasks."""

    def __init__(self, *, name: str, threads: int, poll: float, heartbeat: float):
        super().__init__(
            queue_names=["*"],
            interval=poll,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=name,
            excluded_queue_names=[],
        )
        self.threads = max(1, threads)
        self.heartbeat = heartbeat
        self.stop = threading.Event()
        self._interrupted: set = set()  # tasks a database error stopped, to put back
        self._lock = threading.Lock()
        self._last_beat = self._last_prune = float("-inf")
        self._in_hand: set[Future] = set()

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        """The first SIGTERM/SIGINT: claim nothing more, finish the tasks in hand, exit. A second
        one: exit now (what is in hand runs again elsewhere)."""
        if not self.running:
            self.reset_signals()
            sys.exit(1)
        logger.info("worker: signal %s, stopping after the tasks in hand", signum)
        self.running = False
        self.stop.set()

    def claim(self, count: int) -> list[DBTaskResult]:
        """Up to `count` READY tasks, claimed (RUNNING, this worker's id) in one transaction."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        with exclusive_transaction(tasks.db):
            claimed = list(tasks.select_for_update(skip_locked=True)[:count])
            for task_result in claimed:
                task_result.claim(self.worker_id)
        return claimed

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """Run one claimed task and store its result, as django_tasks_db's worker does; but a
        database error leaves it to be put back to READY rather than marked FAILED."""
        try:
            task = db_task_result.task
            task_result = db_task_result.task_result
            sender = type(task.get_backend())
            task_started.send(sender=sender, task_result=task_result)
            try:
                value = task.call(*task_result.args, **task_result.kwargs)
            except DatabaseError:
                raise
            except Exception as exc:
                logger.exception("task %s (%s) failed", db_task_result.id, task.name)
                db_task_result.set_failed(exc)
            else:
                db_task_result.set_successful(value)
            task_finished.send(sender=sender, task_result=db_task_result.task_result)
        except DatabaseError as exc:
            logger.warning("task %s interrupted by the database (%s)", db_task_result.id, exc)
            with self._lock:
                self._interrupted.add(db_task_result.id)

    def housekeeping(self) -> None:
        """Report in, put back interrupted and orphaned tasks, prune old results (each when
        due)."""
        now = timezone.now()
        with self._lock:
            interrupted = set(self._interrupted)
        if interrupted:
            DBTaskResult.objects.filter(id__in=interrupted, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.READY
            )
            with self._lock:
                self._interrupted -= interrupted
        clock = now.timestamp()
        if clock - self._last_beat >= self.heartbeat:
            worker_heartbeat(name=self.worker_id)
            self._last_beat = clock
            self.orphans_requeue()
        if clock - self._last_prune >= 60:
            self._last_prune = clock
            old = DBTaskResult.objects.successful().filter(finished_at__lte=now - RESULTS_KEPT)
            ids = list(old.values_list("id", flat=True)[:10_000])
            if ids:
                DBTaskResult.objects.filter(id__in=ids).delete()

    def orphans_requeue(self) -> int:
        """Put back to READY the RUNNING tasks of workers that stopped reporting (3 heartbeats
        missed); returns how many."""
        silent = timedelta(seconds=self.heartbeat * 3)
        alive = {*workers_alive(within=silent), self.worker_id}
        running = DBTaskResult.objects.running().filter(
            backend_name=self.backend_name, started_at__lte=timezone.now() - silent
        )
        orphans = [
            pk
            for pk, worker_ids in running.values_list("id", "worker_ids")
            if not worker_ids or worker_ids[-1] not in alive
        ]
        if not orphans:
            return 0
        count = DBTaskResult.objects.filter(id__in=orphans, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY
        )
        logger.warning("worker: %s task(s) of stopped workers put back to run again", count)
        return count

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """One round: housekeeping, planning, claiming a task per free thread; runs them in
        `pool` or, without one, here and now. Returns how many tasks were claimed."""
        self.housekeeping()
        deliveries_plan()
        self._in_hand = {future for future in self._in_hand if not future.done()}
        free = self.threads - len(self._in_hand) if pool is not None else 1
        claimed = self.claim(free) if free > 0 else []
        for task_result in claimed:
            if pool is None:
                self.run_task(task_result)
            else:
                self._in_hand.add(pool.submit(self._run_in_thread, task_result))
        return len(claimed)

    def _run_in_thread(self, task_result: DBTaskResult) -> None:
        # Each pool thread keeps its own connection from task to task; one the database broke
        # is replaced here.
        close_old_connections()
        self.run_task(task_result)

    def run(self) -> None:
        """Rounds until stopped; on stop, the tasks in hand finish first."""
        inline = self.threads == 1 or connection.vendor == "sqlite"
        pool = None if inline else ThreadPoolExecutor(self.threads, thread_name_prefix="task")
        logger.info("worker %s started (%s threads)", self.worker_id, 1 if inline else self.threads)
        try:
            while self.running:
                close_old_connections()
                try:
                    claimed = self.run_once(pool)
                except DatabaseError as exc:
                    # The database is away (restart, failover): wait and try again. What was
                    # claimed is RUNNING under this worker's id, and is put back when it is back.
                    logger.warning("worker: database unavailable (%s); retrying", exc)
                    connection.close()
                    self.stop.wait(self.interval * 4)
                    continue
                if claimed and (pool is None or len(self._in_hand) < self.threads):
                    continue  # more may be ready
                if self._in_hand:
                    wait(self._in_hand, timeout=self.interval, return_when=FIRST_COMPLETED)
                else:
                    self.stop.wait(self.interval)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
            try:
                if self._interrupted:
                    self.housekeeping()
                worker_heartbeat_forget(name=self.worker_id)
            except DatabaseError:
                pass
            logger.info("worker %s stopped", self.worker_id)
