"""The outbox: one row per message per recipient, written in the transaction that causes it
and delivered after it commits (notifications/delivery.py)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from runs.answers import person_label
from runs.models import Run, StepRun


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"

    # At most one row per recipient and cause ("work_item.opened:41:user:7"): a cause that
    # is written twice fails its transaction rather than telling someone twice.
    key = models.CharField(max_length=255, unique=True)
    # What it says, e.g. "work_item.opened", "run.ended": the renderer registered for it
    # (notifications/outbox.py) turns the row into a message when it is sent.
    kind = models.CharField(max_length=50)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    step_run = models.ForeignKey(
        StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A user (their address is read when the message is sent), or an address only (a queue's
    # own address).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    address = models.CharField(max_length=254, blank=True)
    # The cause's details the message tells (a reason, an outcome, a comment).
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    # When the last message asking for its delivery was sent to the broker (the sweeper sends
    # another when it was lost), when the next attempt is due (after a failed one), and when a
    # worker took it (a worker that died while sending leaves it `sending`).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The run page's list.
            models.Index(fields=["run", "created_at"], name="notification_run"),
            # The sweeper: pending and sending rows, oldest dispatch first.
            models.Index(
                fields=["dispatched_at"],
                name="notification_unsent",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def recipient_label(self) -> str:
        if self.recipient_id is not None:
            name = person_label(self.recipient)
            return f"{name} <{self.address or self.recipient.email}>"
        return self.address
