"""How every API list is paginated."""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`limit`/`offset` pages: 50 by default, 1000 at most (larger limits are capped)."""

    default_limit = 50
    max_limit = 1000
