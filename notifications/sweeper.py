"""The outbox's part of the sweep (runs/sweeper.py calls it, every SWEEP_INTERVAL_SECONDS)."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import Notification
from notifications.outbox import deliver_after_commit

logger = logging.getLogger(__name__)
N = Notification.Status
BATCH = 200


def _lost_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "SWEEP_LOST_AFTER_SECONDS", 30))


def _send_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "NOTIFY_SEND_TIMEOUT_SECONDS", 300))


def resend_lost_notifications() -> int:
    """Ask again for the rows whose message was lost: pending, asked for more than
    SWEEP_LOST_AFTER_SECONDS ago and due that long ago (the broker lost the message, or the
    process died before sending it); and rows a worker claimed more than
    NOTIFY_SEND_TIMEOUT_SECONDS ago and never marked (it died while sending), which are
    pending again. A duplicate message is harmless: only one worker can claim a row. Safe to
    run from several sweepers at once."""
    now = timezone.now()
    cutoff = now - _lost_after()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                Q(
                    status=N.PENDING,
                    dispatched_at__lt=cutoff,
                )
                & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=cutoff))
                | Q(status=N.SENDING, claimed_at__lt=now - _send_timeout())
            )
            .order_by("dispatched_at")[:BATCH]
        )
        for row in rows:
            if row.status == N.SENDING:
                row.status = N.PENDING
                row.error = "The worker sending this stopped before it finished; sending again."
                row.next_attempt_at = None
            row.dispatched_at = now
        Notification.objects.bulk_update(
            rows, ["status", "error", "next_attempt_at", "dispatched_at"]
        )
        deliver_after_commit(rows)
    if rows:
        logger.info("asked again for %d notifications", len(rows))
    return len(rows)
