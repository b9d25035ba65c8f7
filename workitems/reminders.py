"""Reminders and escalation of open work items; Celery beat runs them every minute.

Each function works in batches, takes its rows with `select_for_update(skip_locked=True)`,
returns a count, and is safe to run from several beat schedules at once. The emails are
outbox rows written in the same transaction as the item's change (workitems/announce.py), so
a crash after the commit loses none: a worker sends them, the sweeper asks again for those
whose message was lost. A reminder is sent at most once per interval (its delivery key).
"""

import logging

from django.db import transaction
from django.utils import timezone

from workitems import announce, services
from workitems.models import WorkItem

logger = logging.getLogger(__name__)

BATCH = 200
_RELATED = (
    "step",
    "orchestration",
    "run",
    "assignee_user",
    "assignee_queue",
    "assignee_group",
    "owner",
)


def send_due_reminders(*, now=None) -> int:
    """Remind the people an open item waits for when its reminder is due (outbox rows), and
    move `next_reminder_at` on by the step's `remind_every` (to the first time after now)."""
    now = now or timezone.now()
    rows = []
    with transaction.atomic():
        items = list(
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WorkItem.Status.OPEN, next_reminder_at__lte=now)
            .select_related(*_RELATED)
            .order_by("next_reminder_at")[:BATCH]
        )
        for item in items:
            due = item.next_reminder_at
            interval = item.step.remind_every
            if interval:
                next_at = item.next_reminder_at + interval
                while next_at <= now:
                    next_at += interval
                item.next_reminder_at = next_at
            else:
                item.next_reminder_at = None
            item.save(update_fields=["next_reminder_at"])
            rows += announce.reminded(item, due)
        services.notify(rows)
    return len(items)


def escalate_overdue(*, now=None) -> int:
    """Open items past `escalate_at` go to the step's `escalate_to` user, once, who is told
    by email (an outbox row); each escalation is recorded in the run's event log."""
    now = now or timezone.now()
    with transaction.atomic():
        items = list(
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WorkItem.Status.OPEN, escalate_at__lte=now, escalated_at__isnull=True)
            .select_related(*_RELATED, "step__escalate_to")
            .order_by("escalate_at")[:BATCH]
        )
        for item in items:
            services.escalate_work_item(item=item, now=now)
    if items:
        logger.info("escalated %d work items", len(items))
    return len(items)
