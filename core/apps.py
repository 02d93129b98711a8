from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting HTTP pieces every app shares; its one model keeps Idempotency-Key records."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        from core.authentication import connect_signals

        connect_signals()
