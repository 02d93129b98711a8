"""`awards_bulk_load`: the one path that writes awards past `award_grant`.

Benchmark data runs to a million awards; granting them one by one (a lock, an insert and a
figures refresh each) would take hours. So this path inserts them set-based (COPY on
PostgreSQL) and then rebuilds every user's figures, every period's figures and the holder
counts set-based, holding every user row (the documented lock order) from the start so nothing
commits in between. Into tables that are still (nearly) empty, as when seeding a new database,
the plain indexes of the awards, progress and period rows are dropped first and built once the
rows are in (core.db.indexes_built_after). It logs no per-award audit line, writes no activity
entries (so no webhooks fire: the rows are loaded history, not changes happening now) and is
for loading data, never for serving a request.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from achievements.models import Award, PeriodFigure, Progress
from achievements.queries import (
    figures_refresh,
    holders_rebuild_all,
    period_figures_rebuild_all,
    progress_fill_from_awards,
)
from core.db import indexes_built_after, statement_timeout_lift
from users.models import User

logger = logging.getLogger(__name__)


def _insert(rows: Iterable[tuple[int, int, datetime]]) -> None:
    table = Award._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE award_import "
                "(user_id bigint, achievement_id bigint, awarded_at timestamptz) ON COMMIT DROP"
            )
            with cursor.cursor.copy(
                "COPY award_import (user_id, achievement_id, awarded_at) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} (user_id, achievement_id, awarded_at) "
                "SELECT user_id, achievement_id, awarded_at FROM award_import "
                "ON CONFLICT (user_id, achievement_id) DO NOTHING"
            )
            # Dropped now, not at commit: a second load in the same transaction makes it anew.
            cursor.execute("DROP TABLE award_import")
            # Fresh statistics, or the figures rebuild that follows plans for an empty table.
            cursor.execute(f"ANALYZE {table}, {User._meta.db_table}")
        return
    batch = []
    for user_id, achievement_id, awarded_at in rows:
        batch.append(Award(user_id=user_id, achievement_id=achievement_id, awarded_at=awarded_at))
        if len(batch) >= 5000:
            Award.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Award.objects.bulk_create(batch, ignore_conflicts=True)


@transaction.atomic
def awards_bulk_load(rows: Iterable[tuple[int, int, datetime]]) -> int:
    """Insert (user_id, achievement_id, awarded_at) rows, skipping pairs already held, then
    make every user's and every period's figures exact again; returns how many awards were
    added."""
    statement_timeout_lift()
    before = Award.objects.count()
    # Every user row held until commit (the documented order), before any table lock below.
    list(User.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    # Into new tables (a first load: seeding), indexes are built after the rows are in.
    with (
        indexes_built_after(Award),
        indexes_built_after(Progress),
        indexes_built_after(PeriodFigure),
    ):
        _insert(rows)
        added = Award.objects.count() - before
        # Held achievements' progress sits at the goal, as after award_grant.
        progress_fill_from_awards()
        # Every figure rewritten in one set-based pass: no list of what differed, which after
        # a load is nearly everyone.
        figures_refresh(None)
        period_figures_rebuild_all()
        holders_rebuild_all()
    logger.info("bulk load: %s awards added", added)
    return added
