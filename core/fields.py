"""Serializer fields that take input as it was sent, never coercing it into another type."""

import re
from collections.abc import Callable
from datetime import datetime

from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings


class StrictIntegerField(serializers.IntegerField):
    """An integer given as a JSON number: "5", 5.0 and true are refused, not coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text given as a JSON string: a number is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class DigitsField(serializers.IntegerField):
    """A whole number in a query string, written as digits only: "+7", "7.0" and " 7" are
    refused."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"[0-9]{1,9}", data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, given as a JSON string: a number, list or object is refused, never
    turned into text to be compared."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=type(data).__name__)
        return super().to_internal_value(data)


class StrictSlugRelatedField(serializers.SlugRelatedField):
    """An object named by its slug (a code, a username) given as a JSON string. Anything else
    is refused before any query: a nested list would otherwise reach the ORM (and Python's
    recursion limit) as a lookup value."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A boolean given as JSON true or false: "true", 1 and "yes" are refused, not coerced."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def datetime_representer(
    field: serializers.DateTimeField | None = None,
) -> Callable[[datetime | None], str | None]:
    """`field.to_representation` (default: a plain read-only DateTimeField, what ModelSerializer
    makes for a DateTimeField) for many aware values at once: the time zone and the format are
    read once, not per value. For ISO 8601 (DRF's default) DateTimeField's own steps are
    repeated; any other format is left to the field."""
    field = field or serializers.DateTimeField(read_only=True)
    zone = field.default_timezone()
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if zone is None or output_format is None or output_format.lower() != ISO_8601:
        return field.to_representation

    def represent(value):
        if not value:
            return None
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent
