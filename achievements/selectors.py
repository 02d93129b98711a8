"""Queries for the catalog and awards, with what the API and pages need already joined."""

from datetime import datetime
from functools import cache

from django.db import connection
from django.db.models import Exists, F, OuterRef, QuerySet
from modeltranslation.utils import build_localized_fieldname

from achievements.models import Achievement, Activity, Award, Progress
from core.db import cursor_native_timestamps
from core.languages import language_codes
from users.models import User


def achievement_list() -> QuerySet[Achievement]:
    """The whole catalog, by code."""
    return Achievement.objects.order_by("code")


def achievement_get(code: str) -> Achievement:
    """The achievement with this code; raises Achievement.DoesNotExist."""
    if "\x00" in code:
        # No code holds a NUL (PostgreSQL text cannot even compare one).
        raise Achievement.DoesNotExist(code)
    return Achievement.objects.get(code=code)


@cache
def _achievement_brief() -> tuple[str, list[str], int]:
    # Every column but created_at, which would need the ORM's converters on SQLite; `hidden`
    # comes back as 0/1 there (its index is returned to make it a bool).
    fields = [f for f in Achievement._meta.concrete_fields if f.attname != "created_at"]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    names = [f.attname for f in fields]
    sql = f"SELECT {columns} FROM {Achievement._meta.db_table} WHERE code = %s"
    return sql, names, names.index("hidden")


def achievement_get_brief(code: str) -> Achievement:
    """The achievement with this code, found by one prepared statement instead of a compiled
    query (a grant's hot path): every column loaded but `created_at`, which is read on
    access. Raises Achievement.DoesNotExist."""
    if "\x00" in code:
        raise Achievement.DoesNotExist(code)
    sql, names, hidden = _achievement_brief()
    with connection.cursor() as cursor:
        cursor.execute(sql, [code])
        row = cursor.fetchone()
    if row is None:
        raise Achievement.DoesNotExist(code)
    values = list(row)
    values[hidden] = bool(values[hidden])
    return Achievement.from_db(connection.alias, names, values)


def achievement_goal_frozen(achievement: Achievement) -> bool:
    """True once anyone has progress toward the achievement or holds it."""
    return (
        Progress.objects.filter(achievement=achievement, steps__gt=0).exists()
        or Award.objects.filter(achievement=achievement).exists()
    )


def award_list_for_user(user: User) -> QuerySet[Award]:
    """A user's awards, newest first, each with its achievement."""
    return (
        Award.objects.filter(user=user).select_related("achievement").order_by("-awarded_at", "-id")
    )


_MAX_OFFSET = 2**62


@cache
def _award_page_sql() -> tuple[str, tuple[str, ...]]:
    # Every language's texts (the holder's language is known only from the same row). The
    # window count is taken over every award of the holder before LIMIT: one snapshot, so the
    # holder, the count and the rows always agree. A holder without awards is one row of NULLs
    # (count 0) from the LEFT JOINs.
    user, award, achievement = User._meta.db_table, Award._meta.db_table, Achievement._meta.db_table
    columns = tuple(
        build_localized_fieldname(field, code)
        for field in ("name", "description")
        for code in language_codes()
    )
    texts = ", ".join(f"a.{column}" for column in columns)
    return (
        f"SELECT u.language, a.code, {texts}, a.points, w.awarded_at, COUNT(w.id) OVER () "
        f"FROM {user} u LEFT JOIN {award} w ON w.user_id = u.id "
        f"LEFT JOIN {achievement} a ON a.id = w.achievement_id "
        "WHERE LOWER(u.username) = %s ORDER BY w.awarded_at DESC, w.id DESC LIMIT %s OFFSET %s"
    ), columns


def award_page_for_username(
    username: str, *, limit: int, offset: int
) -> tuple[str, int, list[tuple]]:
    """The holder's language, the exact number of their awards and one page of them, newest
    first as `award_list_for_user` orders them, with the holder found as `user_get` finds them;
    raises User.DoesNotExist.

    Rows are `(code, name, description, points, awarded_at)`, the texts in the holder's language
    with English where that translation is empty (modeltranslation's fallback). One statement
    for a page that has rows or a holder without awards; a page past the end costs a second one.
    """
    if not username.isascii() or "\x00" in username:
        raise User.DoesNotExist(username)
    key = username.lower()
    # Past any user's awards either way, and within the database's integer range.
    offset = min(offset, _MAX_OFFSET)
    sql, columns = _award_page_sql()
    with connection.cursor() as cursor:
        cursor_native_timestamps(cursor)
        cursor.execute(sql, [key, limit, offset])
        rows = cursor.fetchall()
        if rows:
            language, count = rows[0][0], rows[0][-1]
        else:
            # Past the end (or nobody): the holder and the count in one snapshot again.
            cursor.execute(_HOLDER_COUNT_SQL, [key])
            holder = cursor.fetchone()
            if holder is None:
                raise User.DoesNotExist(username)
            language, count = holder
    codes = language_codes()
    if language not in codes:
        raise ValueError(f"Unknown language {language!r}.")
    if count == 0:
        return language, 0, []
    # Row layout: language, code, names (one per language), descriptions, points, at, count.
    name, english_name = 2 + codes.index(language), 2
    text, english_text = name + len(codes), 2 + len(codes)
    points = 2 + len(columns)
    convert = None
    if connection.vendor == "sqlite":
        # SQLite hands back the timestamp as text (the ORM's converters are skipped here).
        convert = connection.ops.convert_datetimefield_value
    page = [
        (
            row[1],
            row[name] or row[english_name] or "",
            row[text] or row[english_text] or "",
            row[points],
            row[points + 1] if convert is None else convert(row[points + 1], None, connection),
        )
        for row in rows
    ]
    return language, count, page


_HOLDER_COUNT_SQL = (
    f"SELECT u.language, (SELECT COUNT(*) FROM {Award._meta.db_table} w WHERE w.user_id = u.id) "
    f"FROM {User._meta.db_table} u WHERE LOWER(u.username) = %s"
)


def award_list_recent() -> QuerySet[Award]:
    """Every award, newest first, each with its user and achievement."""
    # No tie-break on id: it would make the database sort every award of an imported batch
    # that shares one timestamp before it can return the first ten.
    return Award.objects.select_related("user", "achievement").order_by("-awarded_at")


def award_list_for_achievement(achievement: Achievement) -> QuerySet[Award]:
    """An achievement's awards, newest first, each with its holder."""
    return (
        Award.objects.filter(achievement=achievement)
        .select_related("user")
        .order_by("-awarded_at", "-id")
    )


def activity_after(*, after: int, limit: int, username: str | None = None) -> list[Activity]:
    """Up to `limit` activity entries with ids above `after`, oldest first (optionally one
    user's). Ids increase in commit order (the feed lock), so paging on the last id never skips
    an entry, even while writes go on."""
    entries = Activity.objects.filter(id__gt=after)
    if username is not None:
        entries = entries.filter(user=username)
    return list(entries.order_by("id")[:limit])


def activity_head() -> int:
    """The id of the newest activity entry (0 when there is none)."""
    return Activity.objects.order_by("-id").values_list("id", flat=True).first() or 0


def progress_list_for_user(user: User) -> QuerySet[Progress]:
    """Every achievement the user has steps toward or holds, most recently changed first, each
    with its achievement and `unlocked` (held) — one query however long the list."""
    held = Award.objects.filter(user=OuterRef("user_id"), achievement=OuterRef("achievement_id"))
    return (
        Progress.objects.filter(user=user, steps__gt=0)
        .select_related("achievement")
        .annotate(unlocked=Exists(held))
        .order_by("-updated_at", "-id")
    )


def progress_list_in_progress(user: User) -> QuerySet[Progress]:
    """The user's achievements begun but not reached, most recently changed first."""
    # A held achievement's steps are at its goal, so "below the goal" means "not held".
    return (
        progress_list_for_user(user).filter(steps__lt=F("achievement__goal")).exclude(unlocked=True)
    )


def award_points_timeline(user: User) -> list[tuple[datetime, int]]:
    """The user's points after each of their awards, oldest first, at today's points of each
    achievement (so the last figure is the user's total): one query."""
    total, timeline = 0, []
    rows = (
        Award.objects.filter(user=user)
        .order_by("awarded_at", "pk")
        .values_list("awarded_at", "achievement__points")
    )
    for awarded_at, points in rows:
        total += points
        timeline.append((awarded_at, total))
    return timeline
