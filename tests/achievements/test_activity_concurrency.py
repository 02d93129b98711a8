"""The feed's cursor never skips: read in a loop while several threads write, on PostgreSQL.

Writers commit late on purpose (a pause after the entry is written, before commit), which is
exactly when an id handed out earlier can commit after a later one is already visible.
"""

import random
import threading
import time

import pytest
from django.db import connection, transaction

from achievements.models import Activity
from achievements.selectors import activity_after
from achievements.services.awards import award_grant, award_revoke
from tests.factories import AchievementFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one write transaction at a time: no commit can come late there",
    ),
]

WRITERS = 6
WRITES_EACH = 25


def test_reading_the_feed_while_writes_go_on_sees_every_entry_once_in_id_order():
    achievements = [AchievementFactory() for _ in range(3)]
    users = [UserFactory() for _ in range(WRITERS * 2)]
    done = threading.Event()
    errors: list[BaseException] = []

    def write(index: int) -> None:
        rng = random.Random(index)
        mine = users[index * 2 : index * 2 + 2]
        try:
            for _ in range(WRITES_EACH):
                user, achievement = rng.choice(mine), rng.choice(achievements)
                with transaction.atomic():
                    _award, created = award_grant(user=user, achievement=achievement)
                    if not created:
                        award_revoke(user=user, achievement=achievement, reason="churn")
                    time.sleep(rng.random() * 0.01)  # commit late
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    seen: list[int] = []

    def read() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()
                page = activity_after(after=after, limit=7)
                seen.extend(entry.pk for entry in page)
                after = page[-1].pk if page else after
                if finished and not page:
                    return
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    done.set()
    reader.join(120)

    assert errors == []
    committed = list(Activity.objects.order_by("id").values_list("id", flat=True))
    assert len(committed) >= WRITERS * WRITES_EACH
    assert seen == committed
