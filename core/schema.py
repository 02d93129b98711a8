"""OpenAPI generation: say that reads need no credentials, as they do not, and that every POST
takes an Idempotency-Key (core.idempotency)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions

from core.errors import error_responses
from core.models import KEY_MAX_LENGTH

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


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with anonymous access listed for GET/HEAD/OPTIONS and the
    Idempotency-Key header (and its answers) on every POST."""

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
