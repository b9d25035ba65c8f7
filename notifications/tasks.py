"""Celery tasks of the outbox (the `notifications` queue)."""

from celery import shared_task

from notifications import delivery


@shared_task(name="notifications.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(keys: list[str]) -> dict[str, int]:
    """Send these outbox rows if they are pending and due; a no-op for the others, so a
    message delivered twice sends nothing twice."""
    return delivery.deliver(keys)
