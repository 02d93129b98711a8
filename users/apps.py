from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    name = "users"
    # "Players", not "Users": the admin also lists Django's own users (operator logins).
    verbose_name = _("Players")
