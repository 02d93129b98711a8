"""Top-level routes: the REST API, its docs, the admin, the probes and the public pages."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from core import docs, health, metrics
from core.root import ApiRootView

# The API root lists these; a new top-level resource adds its name and URL name here.
API_RESOURCES = {
    "users": "user-list",
    "achievements": "achievement-list",
    "stats": "stats-summary",
    "activity": "activity",
    "webhooks": "webhook-list",
}

# The product's name on every admin page, in place of "Django administration".
admin.site.site_header = _("Achievements")
admin.site.site_title = _("Achievements")
admin.site.index_title = _("Administration")

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", ApiRootView.as_view(resources=API_RESOURCES), name="api-root"),
    path("api/v1/", include("users.urls")),
    path("api/v1/", include("achievements.urls")),
    path("api/v1/", include("stats.urls")),
    path("api/v1/", include("webhooks.urls")),
    path("api/v1/", include("events.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", docs.redoc_standalone, name="redoc-standalone"),
    # The language switcher posts to i18n/setlang/ (Django's set_language).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("pages.urls")),
]
