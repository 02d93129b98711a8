"""Test settings: the real settings, with a fixed key and the cheapest password hasher."""

import os

# The developer's .env (e.g. copied from .env.example for production) must not change tests.
os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")

from achievements_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttling and the failed-authentication limit are exercised by their own tests, with rates
# they set.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "auth_failure": None},
}
AUTH_FAILURE_RATE = None
AXES_ENABLED = False
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
# Tests run without collectstatic: WhiteNoise looks files up per request instead of scanning
# a STATIC_ROOT that does not exist (and warning about it on every request).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
