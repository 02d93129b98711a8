"""Checking and rebuilding every user's stored figures from the awards, set-based."""

import logging

from django.db import transaction

from achievements.queries import FigureMismatch, figures_mismatches, figures_refresh
from core.db import statement_timeout_lift
from users.models import User

logger = logging.getLogger(__name__)


@transaction.atomic
def figures_check() -> list[FigureMismatch]:
    """Every user whose stored figures differ from their awards; changes nothing."""
    statement_timeout_lift()
    return figures_mismatches()


@transaction.atomic
def figures_rebuild() -> list[FigureMismatch]:
    """Recompute every user's figures from the awards, set-based; return what was wrong."""
    statement_timeout_lift()
    # Hold every user (ascending id, the documented order) so no grant commits figures that
    # this rebuild would then overwrite with what it computed before.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    mismatches = figures_mismatches()
    if mismatches:
        figures_refresh(None)
    # Not an error in itself: after a bulk load every loaded user's figures are expected to change.
    logger.info("figures rebuilt from the awards: %s user(s) updated", len(mismatches))
    return mismatches
