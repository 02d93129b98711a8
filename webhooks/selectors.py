"""Queries for webhook endpoints, their deliveries and the workers."""

from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from webhooks.models import Delivery, Endpoint, WorkerHeartbeat


def endpoint_list_for_owner(owner: AbstractBaseUser) -> QuerySet[Endpoint]:
    """The endpoints an account registered, oldest first."""
    return Endpoint.objects.filter(owner=owner).order_by("id")


def delivery_list_for_endpoint(endpoint: Endpoint) -> QuerySet[Delivery]:
    """An endpoint's deliveries, newest first."""
    return Delivery.objects.filter(endpoint=endpoint).order_by("-id")


def workers_alive(*, within: timedelta) -> list[str]:
    """The workers that reported within `within`."""
    since = timezone.now() - within
    return list(WorkerHeartbeat.objects.filter(seen_at__gte=since).values_list("name", flat=True))
