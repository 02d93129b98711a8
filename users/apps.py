from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    name = "users"
    # "Players", not "Users": the admin also lists Django's own users (operator logins).
    verbose_name = _("Players")

    def ready(self):
        from core import consistency
        from users.services import user_count_check, user_count_rebuild

        # The user counter (kept by triggers) against the users; rebuild_stats checks it.
        consistency.register(name="user count", check=user_count_check, rebuild=user_count_rebuild)
