from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting HTTP pieces every app shares; no models."""

    name = "core"
    verbose_name = "Core"
