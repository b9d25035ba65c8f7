"""Celery tasks of the work items app (the `notifications` queue)."""

from celery import shared_task

from workitems import reminders


@shared_task(name="workitems.tasks.send_reminders", ignore_result=True)
def send_reminders() -> dict[str, int]:
    """Send due reminders and escalate overdue work items (Celery beat, every minute)."""
    return {
        "reminded": reminders.send_due_reminders(),
        "escalated": reminders.escalate_overdue(),
    }
