"""The deployment files hold together: compose services, the nginx template, Dockerfile, gunicorn.

No Docker engine runs here, so these read the files; test_nginx_e2e.py runs the pieces for real.
"""

import ipaddress
import re
import runpy
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.stack import ENTRYPOINT, NGINX_TEMPLATE, render_template, template_variables
from tests.helpers import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (REPO_ROOT / ".env.example").read_text()


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, with nothing set unless given."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        current = (env or {}).get(name, "")
        if operator == ":-" and not current:
            return argument
        if operator == ":?" and not current:
            raise ValueError(f"{name}: {argument}")
        return current

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", substitute, value)


def nginx_environment() -> dict[str, str]:
    return {name: interpolate(value) for name, value in SERVICES["nginx"]["environment"].items()}


def rendered_for_compose() -> str:
    return render_template(NGINX_TEMPLATE.read_text(), nginx_environment())


HEALTHY = {"condition": "service_healthy"}


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_runs_the_database_cache_app_and_proxy():
    assert set(SERVICES) == {"db", "redis", "web", "worker", "nginx"}
    assert SERVICES["db"]["image"] == "postgres:16"
    assert SERVICES["nginx"]["image"].startswith("nginx:1.27")
    assert SERVICES["web"]["build"] == "."
    assert set(COMPOSE["volumes"]) == {"pgdata", "static"}


def test_the_worker_runs_the_web_image_after_web_has_migrated():
    worker = SERVICES["worker"]

    assert worker["image"] == SERVICES["web"]["image"]
    assert worker["command"] == ["python", "manage.py", "worker"]
    assert worker["depends_on"] == {"web": HEALTHY}
    assert worker["environment"]["DATABASE_URL"] == SERVICES["web"]["environment"]["DATABASE_URL"]
    assert worker["env_file"] == ".env"
    assert "ports" not in worker and "expose" not in worker


def test_the_worker_is_checked_and_given_time_to_finish_its_attempts():
    worker = SERVICES["worker"]

    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "worker", "--check"]
    assert int(worker["stop_grace_period"].rstrip("s")) > 10  # WEBHOOK_TIMEOUT
    assert worker["restart"] == "unless-stopped"


def test_each_service_starts_after_what_it_needs_is_healthy():
    assert SERVICES["web"]["depends_on"] == {"db": HEALTHY, "redis": HEALTHY}
    assert SERVICES["nginx"]["depends_on"] == {"web": HEALTHY}


def test_every_service_that_others_wait_for_has_a_healthcheck():
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert SERVICES["web"]["healthcheck"]["test"] == [
        "CMD",
        "/app/docker-entrypoint.sh",
        "healthcheck",
    ]


def test_only_nginx_is_published_and_it_forwards_to_gunicorns_port():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    nginx = SERVICES["nginx"]

    assert published == {"nginx"}
    assert nginx["ports"] == ["${NGINX_HTTP_PORT:-80}:80"]
    assert nginx["environment"]["NGINX_LISTEN_PORT"] == "80"
    assert nginx["environment"]["APP_UPSTREAM"] == "web:8000"
    assert SERVICES["web"]["expose"] == ["8000"]


def test_database_lives_in_a_named_volume():
    assert SERVICES["db"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]


def test_static_volume_is_written_by_web_and_read_by_nginx_at_the_same_path():
    web, nginx = SERVICES["web"], SERVICES["nginx"]

    assert web["environment"]["NGINX_STATIC_ROOT"] == nginx["environment"]["STATIC_ROOT"]
    assert f"static:{web['environment']['NGINX_STATIC_ROOT']}" in web["volumes"]
    assert f"static:{nginx['environment']['STATIC_ROOT']}:ro" in nginx["volumes"]
    assert "./nginx/templates:/etc/nginx/templates:ro" in nginx["volumes"]


def test_web_is_configured_for_one_proxy_and_the_shared_cache():
    environment = SERVICES["web"]["environment"]

    assert SERVICES["web"]["env_file"] == ".env"
    assert environment["NUM_PROXIES"] == "1"
    assert environment["CACHE_URL"] == "redis://redis:6379/0"


def test_the_database_password_must_be_set_and_reaches_the_database_url():
    password = SERVICES["db"]["environment"]["POSTGRES_PASSWORD"]
    database_url = SERVICES["web"]["environment"]["DATABASE_URL"]
    env = {"POSTGRES_PASSWORD": "s3cret"}

    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        interpolate(password)
    assert interpolate(database_url, env) == "postgres://achievements:s3cret@db:5432/achievements"


# --- .env.example --------------------------------------------------------------------------


def variables_read_by_the_project() -> set[str]:
    """Names read by the settings, gunicorn.conf.py, the entrypoint and docker-compose.yml."""
    settings = (REPO_ROOT / "achievements_site" / "settings.py").read_text()
    gunicorn = (REPO_ROOT / "gunicorn.conf.py").read_text()
    entrypoint = ENTRYPOINT.read_text()
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    name = r"""["']([A-Z][A-Z0-9_]*)["']"""
    names = set(re.findall(rf"env\.\w+\({name}", settings))
    names |= set(re.findall(rf"(?:_int|environ\.get)\({name}", gunicorn))
    names |= set(re.findall(rf"environ(?:\.get\(|\[){name}", entrypoint))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", entrypoint + compose))
    return names - {"DJANGO_SETTINGS_MODULE"}


def test_env_example_mentions_every_variable_the_project_reads():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))
    documented |= set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", ENV_EXAMPLE))

    assert variables_read_by_the_project() - documented == set()


def test_env_example_ships_no_secret():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE))

    assert values["SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""
    assert values["DEBUG"] == "0"


# --- nginx template --------------------------------------------------------------------------


def test_compose_gives_nginx_every_variable_its_template_uses():
    variables = template_variables(NGINX_TEMPLATE.read_text())

    assert variables == {
        "APP_UPSTREAM",
        "NGINX_SERVER_NAME",
        "NGINX_LISTEN_PORT",
        "STATIC_ROOT",
        "NGINX_ACCESS_LOG",
    }
    assert variables <= set(SERVICES["nginx"]["environment"])
    assert not re.search(r"\$\{|\$[A-Z]", rendered_for_compose())


def test_unknown_hosts_get_no_answer():
    rendered = rendered_for_compose()
    servers = rendered.split("\nserver {")[1:]
    default_server = next(server for server in servers if "default_server;" in server)

    assert "server_name _;" in default_server
    assert "return 444;" in default_server
    assert "server_name localhost 127.0.0.1;" in rendered


def test_proxy_passes_host_client_address_scheme_and_request_id():
    rendered = rendered_for_compose()

    assert "server web:8000;" in rendered
    assert "proxy_pass http://achievements_web;" in rendered
    for header, value in [
        ("Host", "$http_host"),
        ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        ("X-Forwarded-Proto", "$scheme"),
        ("X-Request-ID", "$achievements_request_id"),
    ]:
        assert f"proxy_set_header {header} {value};" in rendered


def test_bodies_timeouts_and_compression_are_bounded():
    rendered = rendered_for_compose()
    gzip_types = re.search(r"gzip_types([^;]+);", rendered)[1].split()

    assert "client_max_body_size 1m;" in rendered
    for directive in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
        assert re.search(rf"{directive} \d+s;", rendered)
    assert "gzip on;" in rendered
    assert {"application/json", "text/css", "application/javascript"} <= set(gzip_types)


def test_metrics_pass_nginx_only_from_internal_networks_that_django_allows_too():
    rendered = rendered_for_compose()
    block = re.search(r"location = /metrics \{([^}]*)\}", rendered)[1]
    allowed = re.findall(r"allow (\S+);", block)
    django_allowed = SERVICES["web"]["environment"]["METRICS_ALLOWED_IPS"].split(",")

    assert block.strip().count("deny all;") == 1
    assert block.index("deny all;") > block.rindex("allow ")
    # It sets no header of its own, so it inherits the server's, X-Forwarded-For included.
    assert "proxy_set_header" not in block
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in rendered
    assert set(allowed) == set(django_allowed)
    assert all(
        ipaddress.ip_network(network).is_private or ipaddress.ip_network(network).is_loopback
        for network in allowed
    )


def test_static_files_are_served_from_the_shared_volume():
    rendered = rendered_for_compose()

    assert "alias /srv/static/$1;" in rendered
    assert "alias /srv/static/;" in rendered
    assert 'add_header Cache-Control "public, max-age=31536000, immutable";' in rendered


def test_nginx_proxy_read_timeout_outlasts_gunicorns_worker_timeout(monkeypatch):
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", rendered_for_compose())[1])

    assert read_timeout > gunicorn_config()["timeout"]


def test_nginx_and_gunicorn_take_the_same_request_line_and_header_sizes():
    buffers = re.search(r"large_client_header_buffers (\d+) (\d+)k;", rendered_for_compose())
    config = gunicorn_config()

    assert buffers, "nginx states its header limit instead of relying on its default"
    line_limit = int(buffers[2]) * 1024 - len("\r\n")
    # A request line or a header line that nginx passes, gunicorn takes as well.
    assert config["limit_request_line"] == line_limit
    assert config["limit_request_field_size"] == line_limit
    assert config["limit_request_fields"] == 100


@pytest.mark.skipif(
    shutil.which("envsubst") is None, reason="envsubst (gettext-base) not installed"
)
def test_rendering_matches_envsubst_as_the_nginx_image_runs_it():
    variables = nginx_environment()
    shell_format = " ".join(f"${{{name}}}" for name in variables)
    envsubst = subprocess.run(
        ["envsubst", shell_format],
        input=NGINX_TEMPLATE.read_text(),
        env={"PATH": "/usr/bin:/bin", **variables, "host": "must-not-be-used"},
        capture_output=True,
        text=True,
        check=True,
    )

    assert envsubst.stdout == rendered_for_compose()


# --- Dockerfile ----------------------------------------------------------------------------


def test_dockerfile_builds_in_two_stages_on_slim_python_311():
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, flags=re.MULTILINE) == [
        "${PYTHON_IMAGE}",
        "${PYTHON_IMAGE}",
    ]
    assert "COPY --from=builder /opt/venv /opt/venv" in DOCKERFILE
    assert "--requirement /tmp/requirements.txt" in DOCKERFILE


def test_dockerfile_runs_as_an_unprivileged_user():
    users = re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.MULTILINE)

    assert users
    assert users[-1] not in {"root", "0"}


def test_dockerfile_collects_static_files_with_a_throwaway_key_only_for_that_step():
    collect = re.search(r"^RUN (.*collectstatic.*)$", DOCKERFILE, flags=re.MULTILINE)[1]

    assert collect.startswith("SECRET_KEY=") and "--noinput" in collect
    assert not re.search(r"^(ENV|ARG)\b.*SECRET_KEY", DOCKERFILE, flags=re.MULTILINE)


def test_dockerfile_has_a_healthcheck_without_curl_and_starts_gunicorn_with_its_config():
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", DOCKERFILE, flags=re.S | re.M)[1]

    assert healthcheck == '["/app/docker-entrypoint.sh", "healthcheck"]'
    assert "curl" not in DOCKERFILE
    assert 'ENTRYPOINT ["/app/docker-entrypoint.sh"]' in DOCKERFILE
    assert (
        'CMD ["gunicorn", "--config", "gunicorn.conf.py", "achievements_site.wsgi"]' in DOCKERFILE
    )


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()

    assert {".env", ".git", ".venv", "db.sqlite3", "staticfiles"} <= set(ignored)


def test_entrypoint_is_executable_and_valid_shell():
    assert ENTRYPOINT.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


# --- gunicorn.conf.py ----------------------------------------------------------------------


def gunicorn_config() -> dict:
    return runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))


@pytest.fixture
def gunicorn_env(monkeypatch):
    for name in (
        "GUNICORN_BIND",
        "PORT",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_ACCESS_LOG",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_gunicorn_listens_on_8000_by_default_and_honours_port_then_bind(gunicorn_env):
    assert gunicorn_config()["bind"] == "0.0.0.0:8000"
    gunicorn_env.setenv("PORT", "9000")
    assert gunicorn_config()["bind"] == "0.0.0.0:9000"
    gunicorn_env.setenv("GUNICORN_BIND", "127.0.0.1:7000")
    assert gunicorn_config()["bind"] == "127.0.0.1:7000"


def test_gunicorn_access_log_is_on_unless_turned_off_as_compose_does(gunicorn_env):
    default = gunicorn_config()
    gunicorn_env.setenv("GUNICORN_ACCESS_LOG", "0")
    off = gunicorn_config()

    assert default["accesslog"] == "-"
    assert off["accesslog"] is None
    assert SERVICES["web"]["environment"]["GUNICORN_ACCESS_LOG"] == "0"


def test_under_compose_nginx_writes_the_access_line_with_the_request_id():
    rendered = rendered_for_compose()
    site = rendered.split("server_name localhost 127.0.0.1;", 1)[1]

    assert "access_log /var/log/nginx/access.log achievements;" in site
    log_format = rendered.split("log_format achievements escape=json", 1)[1].split(";", 1)[0]
    assert '"client":"$proxy_add_x_forwarded_for"' in log_format
    assert '"request_id":"$achievements_request_id"' in log_format


def test_gunicorn_workers_and_threads_come_from_the_environment(gunicorn_env):
    default = gunicorn_config()
    gunicorn_env.setenv("WEB_CONCURRENCY", "3")
    gunicorn_env.setenv("GUNICORN_THREADS", "4")
    configured = gunicorn_config()

    assert 3 <= default["workers"] <= 9
    assert default["threads"] == 1
    assert (configured["workers"], configured["threads"]) == (3, 4)


def test_gunicorn_bounds_requests_and_logs_the_forwarded_client(gunicorn_env):
    config = gunicorn_config()

    assert 0 < config["timeout"] <= 60
    assert 0 < config["graceful_timeout"] <= config["timeout"]
    assert 0 < config["keepalive"] <= 10
    assert config["accesslog"] == "-"
    assert "%({x-forwarded-for}i)s" in config["access_log_format"]
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"
