from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    """What users do, sent by integrations: the events, their per-user measures."""

    name = "events"
    verbose_name = _("Events and measures")

    def ready(self):
        from core import consistency
        from events.services import measures_check, measures_rebuild

        # `rebuild_stats` (in achievements, below this app) reaches the measures through core.
        consistency.register(name="measures", check=measures_check, rebuild=measures_rebuild)
