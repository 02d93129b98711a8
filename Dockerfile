# The web service: Django under gunicorn. nginx and PostgreSQL come from docker-compose.yml.
ARG PYTHON_IMAGE=python:3.11-slim

# Builder: install the pinned runtime dependencies into a virtualenv that the final image copies,
# so pip, its cache and any build leftovers stay out of it.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --requirement /tmp/requirements.txt


FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=achievements_site.settings \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

# The app runs as an unprivileged user; the code stays owned by root, so it cannot rewrite itself.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .

# Static files are collected into the image (WhiteNoise serves them when no nginx is in front).
# The settings refuse to load without SECRET_KEY when DEBUG is off; this throwaway one exists
# only for this step and is not kept in the image. /srv/static is the mount point of the volume
# shared with nginx: the entrypoint's copy target, owned by app so a new volume inherits that.
RUN SECRET_KEY=collectstatic-only-not-used-at-run-time python manage.py collectstatic --noinput \
    && chmod 0755 /app/docker-entrypoint.sh \
    && mkdir -p /srv/static \
    && chown app:app /srv/static

USER app
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/app/docker-entrypoint.sh", "healthcheck"]

ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "achievements_site.wsgi"]
