"""Serializer fields that take input as it was sent, never coercing it into another type."""

import re

from rest_framework import serializers


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


class StrictBooleanField(serializers.BooleanField):
    """A boolean given as JSON true or false: "true", 1 and "yes" are refused, not coerced."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
