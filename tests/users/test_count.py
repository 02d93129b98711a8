"""The user counter (triggers on the users table) equals COUNT(*) of users after every kind of
write: the API, the admin, the services, factories, bulk seeding, raw SQL, a flush, and
concurrent registrations and deletions on PostgreSQL."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

from achievements.seeding import bench_seed
from tests.factories import UserFactory
from tests.helpers import run_together
from users.models import User, UserCount
from users.selectors import user_count
from users.services import (
    user_bulk_create,
    user_count_check,
    user_count_rebuild,
    user_create,
    user_delete,
)

pytestmark = pytest.mark.django_db

ADMIN_USERS = "/admin/users/user/"


def assert_counted() -> None:
    assert user_count() == User.objects.count()
    assert user_count_check() == []


def test_without_users_the_count_is_zero():
    assert user_count() == 0
    assert_counted()


def test_users_created_by_the_service_and_the_factory_are_counted():
    user_create(username="ann")
    UserFactory.create_batch(3)

    assert user_count() == 4
    assert_counted()


def test_users_registered_and_removed_through_the_api_are_counted(api):
    for name in ("ann", "bob", "cid"):
        assert api.post("/api/v1/users/", {"username": name}, format="json").status_code == 201
    assert user_count() == 3
    # A refused registration (name taken in another case) counts nothing.
    assert api.post("/api/v1/users/", {"username": "ANN"}, format="json").status_code == 400
    assert user_count() == 3

    assert api.delete("/api/v1/users/bob/").status_code == 204

    assert user_count() == 2
    assert_counted()


def test_users_added_and_deleted_in_the_admin_are_counted(admin_client):
    no_inlines = {
        f"{prefix}-{field}": value
        for prefix in ("awards", "awards-2", "progress")
        for field, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
    }
    added = admin_client.post(
        f"{ADMIN_USERS}add/",
        {"username": "new.one", "language": "en", "time_zone": "UTC", **no_inlines},
    )
    assert added.status_code == 302
    assert user_count() == 1
    other = UserFactory()

    deleted = admin_client.post(f"{ADMIN_USERS}{other.pk}/delete/", {"post": "yes"})

    assert deleted.status_code == 302
    assert user_count() == 1
    assert_counted()


def test_bulk_creation_counts_only_the_users_it_adds():
    UserFactory(username="bench-2")

    user_bulk_create(usernames=[f"bench-{n}" for n in range(5)])

    assert user_count() == 5
    assert_counted()


def test_benchmark_seeding_is_counted():
    bench_seed(users=30, awards=60)

    assert user_count() == User.objects.count() >= 30
    assert_counted()


def test_deleting_users_with_a_queryset_and_raw_sql_is_counted(grant, achievement):
    users = UserFactory.create_batch(6)
    grant(users[0], achievement)
    user_delete(user=users[0])
    User.objects.filter(pk__in=[u.pk for u in users[1:3]]).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {User._meta.db_table} (username, language, time_zone, created_at, "
            "achievements_count, points, longest_streak) VALUES (%s, 'en', 'UTC', %s, 0, 0, 0)",
            ["raw", "2024-01-01T00:00:00Z"],
        )
        cursor.execute(f"DELETE FROM {User._meta.db_table} WHERE id = %s", [users[3].pk])

    assert user_count() == 3
    assert_counted()


def test_a_drifted_counter_fails_the_check_and_the_rebuild_repairs_it(capsys):
    UserFactory.create_batch(4)
    UserCount.objects.update(users=F("users") + 7)
    UserCount.objects.create(users=-2)
    assert user_count() == 9

    with pytest.raises(CommandError, match="user count"):
        call_command("rebuild_stats", "--check")
    assert "user count users: {'users': '9 -> 4'}" in capsys.readouterr().out

    call_command("rebuild_stats")

    assert UserCount.objects.get().users == 4
    call_command("rebuild_stats", "--check")
    assert_counted()


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_the_counter_at_zero_and_counting_goes_on():
    UserFactory.create_batch(3)

    call_command("flush", "--no-input")

    assert user_count() == 0
    UserFactory.create_batch(2)
    assert user_count() == 2
    assert_counted()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncating_the_users_empties_the_counter():
    UserFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {User._meta.db_table} CASCADE")

    assert user_count() == 0
    UserFactory()
    assert_counted()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer at a time: real concurrency needs PostgreSQL",
)
def test_concurrent_registrations_and_deletions_are_all_counted():
    threads, per_thread = 6, 15

    def work(index: int) -> None:
        for n in range(per_thread):
            user = user_create(username=f"t{index}-{n}")
            if n % 3 == 0:
                user_delete(user=user)

    run_together([lambda i=i: work(i) for i in range(threads)], timeout=120)

    assert user_count() == threads * (per_thread - 5)
    assert_counted()
    # Never more counter rows than writers at once (plus the first one).
    assert UserCount.objects.count() <= threads + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer at a time: real concurrency needs PostgreSQL",
)
def test_rebuilding_while_users_register_keeps_the_count_exact():
    writers, per_writer = 4, 12

    def register(index: int) -> None:
        for n in range(per_writer):
            user_create(username=f"r{index}-{n}")

    def rebuild() -> None:
        for _ in range(5):
            user_count_rebuild()

    run_together([*(lambda i=i: register(i) for i in range(writers)), rebuild], timeout=120)

    assert user_count() == writers * per_writer
    assert_counted()
