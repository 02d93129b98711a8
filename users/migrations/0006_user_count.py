# The number of users, kept by triggers so that no path can miss it (the ORM, bulk_create,
# COPY, raw SQL, a TRUNCATE), summed from a few rows on read instead of COUNT(*) over users.

from django.db import migrations, models

POSTGRESQL = [
    # One statement's rows at once (transition tables), so a COPY or bulk_create of 100,000
    # users costs one counter update. SKIP LOCKED: a registration never waits for another one's
    # counter row; it takes any free row, or adds one.
    """
    CREATE FUNCTION users_user_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        delta bigint;
        slot bigint;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT COUNT(*) INTO delta FROM users_user_added;
        ELSE
            SELECT -COUNT(*) INTO delta FROM users_user_removed;
        END IF;
        IF delta = 0 THEN
            RETURN NULL;
        END IF;
        SELECT id INTO slot FROM users_usercount LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF FOUND THEN
            UPDATE users_usercount SET users = users + delta WHERE id = slot;
        ELSE
            INSERT INTO users_usercount (users) VALUES (delta);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION users_user_count_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM users_usercount;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER users_user_count_insert AFTER INSERT ON users_user
    REFERENCING NEW TABLE AS users_user_added
    FOR EACH STATEMENT EXECUTE FUNCTION users_user_count_add()
    """,
    """
    CREATE TRIGGER users_user_count_delete AFTER DELETE ON users_user
    REFERENCING OLD TABLE AS users_user_removed
    FOR EACH STATEMENT EXECUTE FUNCTION users_user_count_add()
    """,
    """
    CREATE TRIGGER users_user_count_truncate AFTER TRUNCATE ON users_user
    FOR EACH STATEMENT EXECUTE FUNCTION users_user_count_clear()
    """,
    "INSERT INTO users_usercount (users) SELECT COUNT(*) FROM users_user",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER users_user_count_truncate ON users_user",
    "DROP TRIGGER users_user_count_delete ON users_user",
    "DROP TRIGGER users_user_count_insert ON users_user",
    "DROP FUNCTION users_user_count_clear()",
    "DROP FUNCTION users_user_count_add()",
]

SQLITE = [
    # SQLite runs one write transaction at a time: one row is enough.
    """
    CREATE TRIGGER users_user_count_insert AFTER INSERT ON users_user FOR EACH ROW BEGIN
        UPDATE users_usercount SET users = users + 1
        WHERE id = (SELECT MIN(id) FROM users_usercount);
        INSERT INTO users_usercount (users) SELECT 1
        WHERE NOT EXISTS (SELECT 1 FROM users_usercount);
    END
    """,
    # No row means the table was emptied with the users (a flush deletes table by table, in
    # either order): nothing is left to subtract from.
    """
    CREATE TRIGGER users_user_count_delete AFTER DELETE ON users_user FOR EACH ROW BEGIN
        UPDATE users_usercount SET users = users - 1
        WHERE id = (SELECT MIN(id) FROM users_usercount);
    END
    """,
    "INSERT INTO users_usercount (users) SELECT COUNT(*) FROM users_user",
]
SQLITE_REVERSE = [
    "DROP TRIGGER users_user_count_delete",
    "DROP TRIGGER users_user_count_insert",
]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in statements:
            raise NotImplementedError(f"no user count triggers for {vendor}")
        for sql in statements[vendor]:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0005_time_zone_label"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("users", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
