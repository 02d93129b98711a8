"""Django auth accounts that act on the service: integrations (token) and operators (admin)."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

logger = logging.getLogger(__name__)

# What an integration may do: manage users, the catalog, awards and its webhooks, and read the
# activity feed. The webhooks app sits above this one: it is named by label, never imported.
INTEGRATION_PERMISSIONS = [
    *(
        (app, f"{action}_{model}")
        for app, model in (
            ("users", "user"),
            ("achievements", "achievement"),
            ("achievements", "award"),
            ("webhooks", "endpoint"),
        )
        for action in ("add", "change", "delete", "view")
    ),
    ("achievements", "view_activity"),
    ("webhooks", "view_delivery"),
]


@transaction.atomic
def integration_account_ensure(*, name: str) -> str:
    """Create (or reuse) the integration account `name` with its permissions; return its token."""
    account, created = get_user_model().objects.get_or_create(username=name)
    if created:
        account.set_unusable_password()
        account.save(update_fields=["password"])
    permissions = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in INTEGRATION_PERMISSIONS
    ]
    account.user_permissions.add(*permissions)
    token, _ = Token.objects.get_or_create(user=account)
    if created:
        logger.info("integration account created: %s", name)
    return token.key


@transaction.atomic
def operator_ensure(username: str, password: str) -> bool:
    """Make sure a superuser operator exists (demo only); return True if it was created."""
    model = get_user_model()
    if model.objects.filter(username=username).exists():
        return False
    model.objects.create_superuser(username=username, email="", password=password)
    logger.info("operator account created: %s", username)
    return True
