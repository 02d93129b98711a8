"""Ordering by code point on every database, as the stats' tie rule requires."""

from django.db.models import Func


class BinaryCollate(Func):
    """`expression COLLATE "C"` on PostgreSQL, `COLLATE BINARY` on SQLite: code point order."""

    template = '%(expressions)s COLLATE "C"'
    arity = 1

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="%(expressions)s COLLATE BINARY", **extra_context
        )
