"""OpenAPI generation: operations grouped by resource, with examples, reads marked as needing
no credentials, as they do not, and every POST taking an Idempotency-Key (core.idempotency)."""

import re

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions

from core.errors import error_responses
from core.models import KEY_MAX_LENGTH
from core.schema_examples import EXAMPLES

IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the POST safe to retry: a repeat with the same key and body gets the "
    "first response again (with `Idempotent-Replayed: true`) and changes nothing; the same "
    "key with another body is a 422; while the first is running, a 409. Kept 24 hours, per "
    "credential account.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX_LENGTH,
        "pattern": "^[!-~]+$",
    },
}

# The first path segment after the version that names a resource, and its tag; a user's nested
# collections are resources of their own (a user's awards are Awards, not Users).
RESOURCE_TAGS = {
    "achievements": "Achievements",
    "awards": "Awards",
    "progress": "Progress",
    "events": "Events",
    "activity": "Activity",
    "webhooks": "Webhooks",
    "stats": "Stats",
    "users": "Users",
}
# /users/{username}/achievements/ lists a user's awards.
NESTED_TAGS = {"achievements": "Awards"}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with a resource tag, examples, anonymous access listed for
    GET/HEAD/OPTIONS, and the Idempotency-Key header (and its answers) on every POST."""

    def get_auth(self):
        auths = super().get_auth()
        if self.method in permissions.SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths

    def _get_parameters(self):
        parameters = super()._get_parameters()
        if self.method == "POST":
            parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.method == "POST":
            for code, response in error_responses(400, 409, 422).items():
                if str(code) not in responses:
                    responses[str(code)] = self._get_response_for_code(
                        response, str(code), direction=direction
                    )
        return responses

    def get_tags(self) -> list[str]:
        segments = [s for s in re.sub(r"^/api/v\d+/", "", self.path).split("/") if s]
        if not segments or segments[0] not in RESOURCE_TAGS:
            return super().get_tags()
        nested = [s for s in segments[1:] if not s.startswith("{")]
        if segments[0] == "users" and nested:
            return [NESTED_TAGS.get(nested[0], RESOURCE_TAGS.get(nested[0], "Users"))]
        return [RESOURCE_TAGS[segments[0]]]

    def get_examples(self):
        return [*super().get_examples(), *EXAMPLES.get(self.get_operation_id(), [])]
