"""API authentication: DRF's token scheme, with guessing limited per client address."""

import logging

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from core.throttling import AuthFailureThrottle, client_address

logger = logging.getLogger(__name__)


class LimitedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; past AUTH_FAILURE_RATE failed attempts from one client,
    429 with Retry-After, whatever the token, until the window ends.

    DRF authenticates before it throttles, so the request throttles never see a bad token: the
    failures are counted here. A client that has used up its failures is refused before its
    token is looked up, so a right guess is not revealed by a different answer.
    """

    def authenticate(self, request):
        if not request.META.get("HTTP_AUTHORIZATION"):
            return None
        throttle = AuthFailureThrottle()
        wait = throttle.locked_out(request)
        if wait is not None:
            raise exceptions.Throttled(wait)
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            wait = throttle.failure(request)
            if wait is not None:
                address = client_address(request)
                logger.warning("failed authentications over the limit from %s", address)
                raise exceptions.Throttled(wait) from None
            raise
