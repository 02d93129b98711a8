"""Run the deployment's real pieces (nginx, gunicorn through the entrypoint) on loopback."""

from __future__ import annotations

import contextlib
import http.client
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import LOOPBACK, REPO_ROOT, process_environment

NGINX_TEMPLATE = REPO_ROOT / "nginx" / "templates" / "default.conf.template"
ENTRYPOINT = REPO_ROOT / "docker-entrypoint.sh"
# The image's CMD.
GUNICORN_COMMAND = ["gunicorn", "--config", "gunicorn.conf.py", "achievements_site.wsgi"]

# What envsubst substitutes: $NAME and ${NAME}, for the names it was given.
_SHELL_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_]\w*)\}|(?P<bare>[A-Za-z_]\w*))")


def render_template(text: str, variables: dict[str, str]) -> str:
    """Render like the official nginx image: only the given variables change, the rest stays."""

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        return variables.get(name, match[0])

    return _SHELL_VARIABLE.sub(substitute, text)


def template_variables(text: str) -> set[str]:
    """The environment variables a template refers to (nginx's own variables are lowercase)."""
    names = {match["braced"] or match["bare"] for match in _SHELL_VARIABLE.finditer(text)}
    return {name for name in names if name.isupper()}


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None,
    )


@dataclass
class Service:
    """A process started by a test, with its combined output in a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def wait_until(self, ready, timeout: float = 30) -> None:
        """Poll ready() until it is true; fail with the log if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log()}")
            try:
                if ready():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} was not ready after {timeout}s:\n{self.log()}")


def start(name: str, command: list[str], *, log_dir: Path, env: dict[str, str]) -> Service:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Service(name, process, log_path)


def start_gunicorn(*, port: int, env: dict[str, str], log_dir: Path, name="gunicorn") -> Service:
    """gunicorn with the repo's config, started the way the image starts it: via the entrypoint."""
    command = ["sh", str(ENTRYPOINT), *GUNICORN_COMMAND]
    env = {**env, "GUNICORN_BIND": f"{LOOPBACK}:{port}"}
    service = start(name, command, log_dir=log_dir, env=env)
    service.wait_until(lambda: fetch(port, "/healthz").status == 200, timeout=60)
    return service


def nginx_main_config(directory: Path) -> str:
    """What the official image's nginx.conf provides, with every path inside `directory`.

    The rendered template goes into conf.d/ and is included inside `http {}`, as in the image.
    """
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = directory / "temp"
    return f"""
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr notice;
daemon off;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    sendfile on;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/conf.d/*.conf;
}}
"""


def prepare_nginx(directory: Path, variables: dict[str, str], extra_conf: str = "") -> Path:
    """Write the main config, the rendered template and any extra conf.d file; return the config."""
    (directory / "conf.d").mkdir(parents=True)
    (directory / "temp").mkdir()
    rendered = render_template(NGINX_TEMPLATE.read_text(), variables)
    (directory / "conf.d" / "default.conf").write_text(rendered)
    if extra_conf:
        (directory / "conf.d" / "extra.conf").write_text(extra_conf)
    config = directory / "nginx.conf"
    config.write_text(nginx_main_config(directory))
    return config


def nginx_command(nginx: str, directory: Path, *args: str) -> list[str]:
    return [nginx, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr", *args]


def start_nginx(nginx: str, directory: Path, *, port: int) -> Service:
    command = nginx_command(nginx, directory)
    service = start("nginx", command, log_dir=directory, env=process_environment())
    service.wait_until(lambda: _accepts(port), timeout=15)
    return service


def _accepts(port: int) -> bool:
    with socket.create_connection((LOOPBACK, port), timeout=1):
        return True


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def fetch(
    port: int,
    path: str,
    *,
    host: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    tls: bool = False,
    timeout: float = 20,
) -> Response:
    """One HTTP request to a loopback port; no redirects followed.

    The Host header is host:port as a browser sends it, unless `host` names another.
    """
    host = host or f"{LOOPBACK}:{port}"
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(LOOPBACK, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        # A server that refuses a body (413) may close before all of it is sent: read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return Response(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()
