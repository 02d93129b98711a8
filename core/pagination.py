"""How every API list is paginated."""

from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`limit`/`offset` pages: 50 by default, 1000 at most (larger limits are capped)."""

    default_limit = 50
    max_limit = 1000

    def paginate_counted(self, request, fetch):
        """A page from `fetch(limit, offset) -> (count, rows)`, for views that count and read
        in one statement; afterwards `get_paginated_response` builds the same links as for a
        queryset."""
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count, rows = fetch(self.limit, self.offset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return rows
