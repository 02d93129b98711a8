"""API authentication: DRF's token scheme, with guessing limited per client address, and the
token → account → permissions lookup kept in the cache so an authenticated request costs no
statement for it."""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from core.throttling import NOT_READ, AuthFailureThrottle, client_address

logger = logging.getLogger(__name__)

_KEY_PREFIX = "authtoken:"
# Written over an entry when its account or token changes. It stays for the cache's lifetime
# and refuses the `add` of a request that read the account before the change committed, so no
# stale entry can land after the change: the token is looked up in the database until then.
_CHANGED = "changed"


def _cache_seconds() -> int:
    return settings.AUTH_TOKEN_CACHE_SECONDS


def _cache_key(key: str) -> str:
    # The token itself never becomes a cache key (the cache may be shared, or dumped).
    return _KEY_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _entry(token: Token) -> dict:
    user = token.user
    # No password hash in the cache: it stays deferred (read from the database if ever used).
    fields = {
        field.attname: getattr(user, field.attname)
        for field in user._meta.concrete_fields
        if field.attname != "password"
    }
    permissions = set() if user.is_superuser else user.get_all_permissions()
    return {"token": [token.key, token.created], "user": fields, "perms": sorted(permissions)}


def _from_entry(entry: dict) -> Token:
    fields = entry["user"]
    user = get_user_model().from_db("default", list(fields), list(fields.values()))
    if not user.is_superuser:
        # What ModelBackend would read on the first has_perm(): no statement for it now.
        user._perm_cache = set(entry["perms"])
    key, created = entry["token"]
    token = Token(key=key, user_id=user.pk, created=created)
    token.user = user
    return token


def _cached(key: str):
    try:
        return cache.get(_cache_key(key))
    except Exception:  # a cache outage costs the statements, never the request
        logger.warning("token cache unavailable", exc_info=True)
        return None


def _remember(key: str, token: Token) -> None:
    try:
        cache.add(_cache_key(key), _entry(token), _cache_seconds())
    except Exception:
        logger.warning("token cache unavailable", exc_info=True)


def forget_tokens(keys) -> None:
    """Drop the cached accounts of these tokens, now and again when the transaction commits."""
    if not _cache_seconds():
        return
    entries = {_cache_key(key): _CHANGED for key in keys}
    if not entries:
        return

    def mark() -> None:
        cache.set_many(entries, _cache_seconds())

    mark()
    transaction.on_commit(mark)


def forget_accounts(user_ids) -> None:
    """Drop the cached accounts of these users' tokens."""
    user_ids = [pk for pk in user_ids if pk is not None]
    if _cache_seconds() and user_ids:
        forget_tokens(Token.objects.filter(user_id__in=user_ids).values_list("key", flat=True))


def _token_key(header: str) -> str | None:
    """The key of a well-formed `Token <key>` header, else None (DRF then decides)."""
    parts = header.split()
    return parts[1] if len(parts) == 2 and parts[0].lower() == "token" else None


class LimitedTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; past AUTH_FAILURE_RATE failed attempts from one client,
    429 with Retry-After, whatever the token, until the window ends.

    DRF authenticates before it throttles, so the request throttles never see a bad token: the
    failures are counted here. A client that has used up its failures is refused before its
    token is looked up, so a right guess is not revealed by a different answer.

    With AUTH_TOKEN_CACHE_SECONDS above 0, a good token's account and permissions come from the
    cache; any change to the token, the account, its permissions or its groups drops the entry
    (signals below) before the change commits, so it takes effect on the next request.
    """

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        throttle = AuthFailureThrottle()
        # The client's failures and the token's cached account in one round trip to the cache.
        key = _token_key(header) if _cache_seconds() else None
        wait, entry = throttle.locked_out_and_get(request, key and _cache_key(key))
        if wait is not None:
            raise exceptions.Throttled(wait)
        self._prefetched = {key: entry} if key is not None and entry is not NOT_READ else {}
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            wait = throttle.failure(request)
            if wait is not None:
                address = client_address(request)
                logger.warning("failed authentications over the limit from %s", address)
                raise exceptions.Throttled(wait) from None
            raise

    def authenticate_credentials(self, key):
        if not _cache_seconds():
            return super().authenticate_credentials(key)
        prefetched = getattr(self, "_prefetched", {})
        entry = prefetched.pop(key) if key in prefetched else _cached(key)
        if isinstance(entry, dict):
            token = _from_entry(entry)
            return token.user, token
        user, token = super().authenticate_credentials(key)
        if entry is None:
            _remember(key, token)
        return user, token


def _token_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:  # a new token has nothing cached yet
        forget_tokens([instance.key])


def _account_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:
        forget_accounts([instance.pk])


def _memberships_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    # user.groups / user.user_permissions (instance a user), or group.user_set /
    # permission.user_set (instance a group or a permission, pk_set the users).
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    if action != "pre_clear" and not pk_set:  # added what was there, removed what was not
        return
    if isinstance(instance, get_user_model()):
        forget_accounts([instance.pk])
    elif action == "pre_clear":
        forget_accounts(_members_of(instance))
    else:
        forget_accounts(pk_set or [])


def _members_of(instance) -> list[int]:
    return list(instance.user_set.values_list("pk", flat=True))


def _group_permissions_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    if action != "pre_clear" and not pk_set:
        return
    if isinstance(instance, Group):
        groups = [instance.pk]
    elif action == "pre_clear":
        groups = list(instance.group_set.values_list("pk", flat=True))
    else:
        groups = list(pk_set or [])
    user_model = get_user_model()
    forget_accounts(user_model.objects.filter(groups__in=groups).values_list("pk", flat=True))


def connect_signals() -> None:
    """Connect the cache's invalidation (called once from core.apps)."""
    user_model = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(_token_changed, sender=Token, dispatch_uid="authtoken-token")
        signal.connect(_account_changed, sender=user_model, dispatch_uid="authtoken-user")
    m2m_changed.connect(
        _memberships_changed, sender=user_model.groups.through, dispatch_uid="authtoken-groups"
    )
    m2m_changed.connect(
        _memberships_changed,
        sender=user_model.user_permissions.through,
        dispatch_uid="authtoken-user-perms",
    )
    m2m_changed.connect(
        _group_permissions_changed,
        sender=Group.permissions.through,
        dispatch_uid="authtoken-group-perms",
    )
    # A deleted group or permission takes its memberships without an m2m signal.
    pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="authtoken-group-delete")
    pre_delete.connect(
        _permission_deleted, sender=Permission, dispatch_uid="authtoken-permission-delete"
    )


def _group_deleted(sender, instance, **kwargs) -> None:
    forget_accounts(_members_of(instance))


def _permission_deleted(sender, instance, **kwargs) -> None:
    user_model = get_user_model()
    holders = user_model.objects.filter(
        Q(user_permissions=instance) | Q(groups__permissions=instance)
    )
    forget_accounts(holders.values_list("pk", flat=True).distinct())
