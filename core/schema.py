"""OpenAPI generation: say that reads need no credentials, as they do not."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with anonymous access listed for GET/HEAD/OPTIONS."""

    def get_auth(self):
        auths = super().get_auth()
        if self.method in permissions.SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths
