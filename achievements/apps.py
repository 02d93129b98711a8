from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AchievementsConfig(AppConfig):
    name = "achievements"
    verbose_name = _("Achievements and awards")

    def ready(self):
        from achievements.services.figures import (
            holders_check,
            holders_rebuild,
            user_delete_holders,
            user_time_zone_change,
        )
        from achievements.services.progress import progress_check, progress_rebuild
        from core import consistency
        from users.services import TIME_ZONE_CHANGE_HOOKS, USER_DELETE_HOOKS

        # Every holder's progress sits at the goal; rebuild_stats checks and restores it.
        consistency.register(name="progress", check=progress_check, rebuild=progress_rebuild)

        # A user's streak is counted in their zone: users.services.user_update calls this
        # in its transaction when the zone changes (users cannot import achievements).
        if user_time_zone_change not in TIME_ZONE_CHANGE_HOOKS:
            TIME_ZONE_CHANGE_HOOKS.append(user_time_zone_change)
        # The holder counts lose a deleted user's awards in the deletion's transaction.
        if user_delete_holders not in USER_DELETE_HOOKS:
            USER_DELETE_HOOKS.append(user_delete_holders)
        consistency.register(name="holder counts", check=holders_check, rebuild=holders_rebuild)
