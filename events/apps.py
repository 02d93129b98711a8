from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    """What users do, sent by integrations: the events, their per-user measures."""

    name = "events"
    verbose_name = _("Events and measures")

    def ready(self):
        from achievements.seeding import DEMO_SEED_STEPS
        from achievements.services.rules import rules_register
        from core import consistency
        from events.rules import rule_evaluate, rule_progress_source
        from events.seeding import demo_events_seed
        from events.selectors import event_types_seen
        from events.services import (
            measures_check,
            measures_rebuild,
            user_time_zone_change,
            user_time_zone_change_locks,
        )
        from users.services import TIME_ZONE_CHANGE_HOOKS, TIME_ZONE_CHANGE_LOCKS

        # `rebuild_stats` (in achievements, below this app) reaches the measures through core.
        consistency.register(name="measures", check=measures_check, rebuild=measures_rebuild)
        # The catalog and award services (below too) reach the measures for rules.
        rules_register(
            evaluator=rule_evaluate,
            progress_source=rule_progress_source,
            event_types_seen=event_types_seen,
        )
        # A user's event days are taken in their zone: users.services.user_update takes these
        # locks before the user's row, then calls the hook in its transaction on a change.
        if user_time_zone_change_locks not in TIME_ZONE_CHANGE_LOCKS:
            TIME_ZONE_CHANGE_LOCKS.append(user_time_zone_change_locks)
        if user_time_zone_change not in TIME_ZONE_CHANGE_HOOKS:
            TIME_ZONE_CHANGE_HOOKS.append(user_time_zone_change)
        # The demo players' events, sent by the demo seeding (below this app) as its last step.
        if demo_events_seed not in DEMO_SEED_STEPS:
            DEMO_SEED_STEPS.append(demo_events_seed)
