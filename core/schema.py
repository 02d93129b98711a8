"""OpenAPI generation: operations grouped by resource, with examples, and reads marked as
needing no credentials, as they do not."""

import re

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions

from core.schema_examples import EXAMPLES

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
    """drf-spectacular's schema, with a resource tag, examples, and anonymous access listed for
    GET/HEAD/OPTIONS."""

    def get_auth(self):
        auths = super().get_auth()
        if self.method in permissions.SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths

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
