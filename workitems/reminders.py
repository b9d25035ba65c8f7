"""Reminders and escalation of open work items; Celery beat runs them every minute.

Each function works in batches, takes its rows with `select_for_update(skip_locked=True)`,
returns a count, and is safe to run from several beat schedules at once. Emails leave after
the transaction commits: a reminder is sent at most once per interval.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from workitems import services
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
    """Email the people an open item waits for when its reminder is due, and move
    `next_reminder_at` on by the step's `remind_every` (to the first time after now)."""
    now = now or timezone.now()
    emails = []
    with transaction.atomic():
        items = list(
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WorkItem.Status.OPEN, next_reminder_at__lte=now)
            .select_related(*_RELATED)
            .order_by("next_reminder_at")[:BATCH]
        )
        for item in items:
            interval = item.step.remind_every
            if interval:
                next_at = item.next_reminder_at + interval
                while next_at <= now:
                    next_at += interval
                item.next_reminder_at = next_at
            else:
                item.next_reminder_at = None
            item.save(update_fields=["next_reminder_at"])
            recipients = recipients_of(item)
            if recipients:
                emails.append(_reminder(item, recipients))
    _send(emails)
    return len(items)


def escalate_overdue(*, now=None) -> int:
    """Open items past `escalate_at` go to the step's `escalate_to` user, once, who is told
    by email; each escalation is recorded in the run's event log."""
    now = now or timezone.now()
    emails = []
    with transaction.atomic():
        items = list(
            WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WorkItem.Status.OPEN, escalate_at__lte=now, escalated_at__isnull=True)
            .select_related(*_RELATED, "step__escalate_to")
            .order_by("escalate_at")[:BATCH]
        )
        for item in items:
            handed = services.escalate_work_item(item=item, now=now)
            recipients = recipients_of(item) if handed else []
            if recipients:
                emails.append(_escalation(item, recipients))
    _send(emails)
    if items:
        logger.info("escalated %d work items", len(items))
    return len(items)


def recipients_of(item: WorkItem) -> list[str]:
    """Who an open item waits for: its user; a queue's owner, else the queue's address, else
    its members; a group's members."""
    if item.assignee_user_id is not None:
        return [item.assignee_user.email] if item.assignee_user.email else []
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if item.assignee_queue_id is not None:
        if item.owner_id is not None:
            return [item.owner.email] if item.owner.email else []
        if item.assignee_queue.email:
            return [item.assignee_queue.email]
        users = users.filter(work_queues=item.assignee_queue_id)
    elif item.assignee_group_id is not None:
        users = users.filter(groups=item.assignee_group_id)
    else:
        return []
    return sorted(users.values_list("email", flat=True))


def _link(item: WorkItem) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("workitems:work_item", args=[item.pk])


def _about(item: WorkItem) -> str:
    title = f" for {item.run.title}" if item.run.title else ""
    return f'"{item.step.label}" ({item.orchestration.name}{title})'


def _reminder(item: WorkItem, recipients: list[str]) -> EmailMessage:
    waiting = timezone.localtime(item.created_at).strftime("%d %b %Y %H:%M")
    due = ""
    if item.due_at is not None:
        verb = "was" if item.due_at < timezone.now() else "is"
        due = f" It {verb} due {timezone.localtime(item.due_at).strftime('%d %b %Y %H:%M')}."
    return EmailMessage(
        subject=f"Reminder: {item.step.label}",
        body=(
            f"{_about(item)} has been waiting for you since {waiting}.{due}\n\n"
            f"Open it: {_link(item)}\n"
        ),
        to=recipients,
    )


def _escalation(item: WorkItem, recipients: list[str]) -> EmailMessage:
    return EmailMessage(
        subject=f"Escalated to you: {item.step.label}",
        body=(
            f"{_about(item)} was not completed in time and has been passed to you.\n\n"
            f"Open it: {_link(item)}\n"
        ),
        to=recipients,
    )


def _send(emails: list[EmailMessage]) -> None:
    if not emails:
        return
    try:
        get_connection().send_messages(emails)
    except Exception:
        logger.exception("could not send %d work item emails", len(emails))
