"""Background tasks of the webhooks app, run by `manage.py worker` (Django's Tasks framework)."""

from django_tasks import task

from webhooks.services import deliveries_send


@task(queue_name="webhooks")
def deliver(delivery_ids: list[int], attempts: int) -> int:
    """Attempt one endpoint's deliveries that have had `attempts` attempts so far (the task's
    arguments stay JSON: ids, not rows); returns how many were attempted."""
    return deliveries_send(delivery_ids=delivery_ids, attempts=attempts)
