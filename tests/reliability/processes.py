"""Real processes for the end-to-end reliability tests: a private PostgreSQL cluster the test
can stop, freeze and restart, and the app under gunicorn with the repo's gunicorn.conf.py."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import LOOPBACK, REPO_ROOT, free_port, process_environment, skip_or_fail

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder with initdb and pg_ctl, or None."""
    for directory in POSTGRES_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def missing_postgres_reason() -> str | None:
    """Why a private cluster cannot be started here, or None when it can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and there is no `postgres` user to run the cluster as"
        if not shutil.which("runuser"):
            return "running as root, and `runuser` is missing"
    return None


@dataclass
class PostgresCluster:
    """A throwaway cluster in a temporary folder, on a free loopback port, trusting local users.

    initdb and postgres refuse to run as root, so as root they run as the `postgres` user.
    """

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pg-outage-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@{LOOPBACK}:{self.port}/{database}"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(postgres_bin_dir() / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={LOOPBACK} -k {self.directory}"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def freeze(self) -> None:
        """Stop the postmaster (not its backends): it accepts TCP connections, answers nothing."""
        os.kill(self.postmaster_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.postmaster_pid(), signal.SIGCONT)

    def server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = self.postmaster_pid()
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def freeze_all(self) -> None:
        """Stop every server process: open connections stay open and nothing answers on them."""
        self._signal_all(signal.SIGSTOP)

    def thaw_all(self) -> None:
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, signum: int) -> None:
        for pid in self.server_pids():
            # A backend may exit between the listing and the signal (a client that
            # disconnected): it has nothing left to stop or resume.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def destroy(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.thaw_all()
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def app_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """A production-like environment (DEBUG off) for the app on loopback, nothing inherited
    from the developer's Django variables."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": "achievements_site.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "reliability-e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "0",
        "ALLOWED_HOSTS": LOOPBACK,
        "SECURE_SSL_REDIRECT": "0",
        # Limits off unless a test sets them.
        "THROTTLE_ANON_RATE": "",
        "THROTTLE_USER_RATE": "",
        "AUTH_FAILURE_RATE": "",
    }
    return process_environment(**{**defaults, **overrides})


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command; return its stdout, fail with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self):
        return json.loads(self.body)


def fetch(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: dict | bytes | None = None,
    timeout: float = 60,
) -> Response:
    """One HTTP request to a loopback port; JSON-encodes a dict body."""
    headers = {"Host": LOOPBACK, **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    started = time.monotonic()
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return Response(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            time.monotonic() - started,
        )
    finally:
        connection.close()


@dataclass
class Gunicorn:
    """The app under gunicorn with the repo's config, as the image runs it (minus the proxy)."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @classmethod
    def start(cls, env: dict[str, str], log_path: Path, *options: str, **settings: str) -> Gunicorn:
        """Start it; `options` are extra command-line options, `settings` extra environment."""
        port = free_port()
        env = {**env, "GUNICORN_BIND": f"{LOOPBACK}:{port}", **settings}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "gunicorn.conf.py",
                    *options,
                    "achievements_site.wsgi",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = cls(process, port, log_path)
        server.wait_until_serving()
        return server

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited early:\n{self.log()}")
            with contextlib.suppress(OSError):
                if fetch(self.port, "/healthz", timeout=2).status == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not serve within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def migrated_cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster holding the app's tables, destroyed afterwards; the test is
    skipped (failed in CI) when PostgreSQL's server binaries are missing."""
    reason = missing_postgres_reason()
    if reason:
        skip_or_fail(reason)
    cluster = PostgresCluster()
    try:
        cluster.create()
        manage(app_environment(cluster.url()), "migrate", "--noinput", "-v0")
        yield cluster
    finally:
        cluster.destroy()
