"""DRF's ordering and search filters, with this service's rules: usernames order by code point
on every database, an unknown ordering field is a 400 that names it, and ties always fall back
to the username."""

from rest_framework import exceptions, filters

from core.collation import BinaryCollate


class OrderingFilter(filters.OrderingFilter):
    """`?ordering=a,-b` over the view's `ordering_fields`; the view's `collated_fields` order
    by code point; `tie_breaker` (ascending, collated) always ends the ordering."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = [name for name, _label in self.get_valid_fields(queryset, view)]
        terms, seen = [], set()
        for term in fields:
            if not term:
                continue
            name = term.removeprefix("-")
            if name not in valid:
                raise exceptions.ValidationError(
                    {self.ordering_param: [f"Cannot order by {name!r}; use {', '.join(valid)}."]}
                )
            if name not in seen:
                seen.add(name)
                terms.append(term)
        return terms

    def get_ordering(self, request, queryset, view):
        terms = list(super().get_ordering(request, queryset, view) or [])
        tie_breaker = getattr(view, "tie_breaker", None)
        if tie_breaker and tie_breaker not in {term.removeprefix("-") for term in terms}:
            terms.append(tie_breaker)
        collated = set(getattr(view, "collated_fields", ()))
        return [self._expression(term, collated) for term in terms]

    @staticmethod
    def _expression(term: str, collated: set[str]):
        name = term.removeprefix("-")
        if name not in collated:
            return term
        expression = BinaryCollate(name)
        return expression.desc() if term.startswith("-") else expression.asc()

    def get_schema_operation_parameters(self, view):
        names = [name for name, _label in self.get_valid_fields(None, view)]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Comma-separated fields to order by; `-` for descending. "
                f"Ties: {getattr(view, 'tie_breaker', None) or 'unspecified'}.",
                "style": "form",
                "explode": False,
                "schema": {
                    "type": "array",
                    "items": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]},
                },
            }
        ]


class SearchFilter(filters.SearchFilter):
    """DRF's search; a NUL character matches nothing (PostgreSQL text cannot even hold one)."""

    def filter_queryset(self, request, queryset, view):
        if "\x00" in request.query_params.get(self.search_param, ""):
            return queryset.none()
        return super().filter_queryset(request, queryset, view)
