"""Checking and rebuilding the stored figures (each user's and each period's) from the
awards, set-based; and recomputing one user's figures when their time zone changes."""

import logging

from django.db import transaction

from achievements.models import Award
from achievements.queries import (
    FigureMismatch,
    PeriodMismatch,
    figures_mismatches,
    figures_refresh,
    holders_add,
    holders_mismatches,
    holders_rebuild_all,
    period_figures_mismatches,
    period_figures_rebuild_all,
)
from core.consistency import Mismatch
from core.db import statement_timeout_lift
from users.models import User

logger = logging.getLogger(__name__)


@transaction.atomic
def user_time_zone_change(user: User) -> None:
    """Recompute the user's figures after their time zone changed (their streak days move).

    Registered in users.services.TIME_ZONE_CHANGE_HOOKS, so `user_update` runs it in its own
    transaction with the user's row held. Period figures take days in the service's zone and
    do not move."""
    figures_refresh(user.pk)


@transaction.atomic
def figures_check() -> list[FigureMismatch]:
    """Every user whose stored figures differ from their awards; changes nothing."""
    statement_timeout_lift()
    return figures_mismatches()


@transaction.atomic
def period_figures_check() -> list[PeriodMismatch]:
    """Every period row that is missing, extra or differs from the awards; changes nothing."""
    statement_timeout_lift()
    return period_figures_mismatches()


@transaction.atomic
def figures_rebuild() -> list[FigureMismatch]:
    """Recompute every user's figures from the awards, set-based; return what was wrong.
    (Period figures: `period_figures_rebuild`.)"""
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


@transaction.atomic
def period_figures_rebuild() -> list[PeriodMismatch]:
    """Rebuild every period row from the awards, set-based; return what was wrong."""
    statement_timeout_lift()
    # Every user row held, as in figures_rebuild: no grant commits period rows in between.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    mismatches = period_figures_mismatches()
    if mismatches:
        period_figures_rebuild_all()
    logger.info("period figures rebuilt: %s row(s) corrected", len(mismatches))
    return mismatches


def user_delete_holders(user: User) -> None:
    """Count the user out of the holders of everything they hold, before they are deleted.

    Registered in users.services.USER_DELETE_HOOKS: `user_delete` runs it in its transaction
    with the user's row held."""
    held = Award.objects.filter(user_id=user.pk).order_by("achievement_id")
    for achievement_id in held.values_list("achievement_id", flat=True):
        holders_add(achievement_id, -1)


def _holders_as_mismatches(found) -> list[Mismatch]:
    return [
        Mismatch(name=m.code, stored={"holders": m.stored}, expected={"holders": m.expected})
        for m in found
    ]


@transaction.atomic
def holders_check() -> list[Mismatch]:
    """Every achievement whose holder counters do not sum to its awards; changes nothing."""
    statement_timeout_lift()
    return _holders_as_mismatches(holders_mismatches())


@transaction.atomic
def holders_rebuild() -> list[Mismatch]:
    """Recount every achievement's holders from the awards (one counter row each); return what
    was wrong."""
    statement_timeout_lift()
    # Every user row held, as in figures_rebuild: no grant changes a counter in between.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    mismatches = holders_mismatches()
    holders_rebuild_all()
    logger.info("holder counts rebuilt: %s achievement(s) corrected", len(mismatches))
    return _holders_as_mismatches(mismatches)
