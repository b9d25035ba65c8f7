"""Sending outbox rows: each is claimed, rendered, sent and marked, at most once at a time.

A row is claimed with one conditional UPDATE (pending and due -> sending, one more attempt):
two workers, or a message the broker delivered twice, cannot both claim it, so a row is sent
once. A failed attempt puts the row back to pending with its next attempt's time (back-off
doubling from NOTIFY_RETRY_BACKOFF_SECONDS) and asks for it after that delay; after
NOTIFY_MAX_ATTEMPTS, or a refusal that no retry can change (an SMTP 5xx answer, no address),
the row is failed with the error. Timing lives in the row, so the sweeper can make up for a
lost message. Only a worker that dies after the mail server accepted a message and before the
row is marked can send it again (after NOTIFY_SEND_TIMEOUT_SECONDS): the message keeps its
Message-ID, so mail clients can tell the copy.
"""

import datetime
import hashlib
import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Notification
from notifications.outbox import Email, Undeliverable, render

logger = logging.getLogger(__name__)
N = Notification.Status
# A retry's message may arrive a moment before its time (the broker's countdown and the
# database's clock are not one clock): it is taken if due within this margin.
DUE_MARGIN = datetime.timedelta(seconds=1)


def max_attempts() -> int:
    return getattr(settings, "NOTIFY_MAX_ATTEMPTS", 8)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling, at most an hour."""
    base = getattr(settings, "NOTIFY_RETRY_BACKOFF_SECONDS", 30.0)
    return min(base * 2 ** (attempts - 1), 3600.0)


def deliver(keys: list[str]) -> dict[str, int]:
    """Send the rows with these keys that are pending and due, over one connection to the
    mail server; counts of sent, retried and failed rows (a row not claimed counts nowhere:
    another worker has it, or it was sent already)."""
    counts = {"sent": 0, "retried": 0, "failed": 0}
    connection = None
    try:
        for key in keys:
            row = _claim(key)
            if row is None:
                continue
            if connection is None:
                connection = get_connection()
            counts[_send(row, connection)] += 1
    finally:
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a server that has gone away: the rows are marked already
                logger.warning("could not close the connection to the mail server")
    return counts


def deliver_due(*, now=None) -> dict[str, int]:
    """Send every pending row that is due, in this process (tests, and `make run` without a
    worker): what the workers would do."""
    now = now or timezone.now()
    keys = list(
        Notification.objects.filter(status=N.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_MARGIN))
        .order_by("id")
        .values_list("key", flat=True)
    )
    return deliver(keys)


def _claim(key: str) -> Notification | None:
    """pending and due -> sending, with one more attempt: one conditional UPDATE, so only one
    worker can take a row; the row, or None when someone else took it or it is not due."""
    now = timezone.now()
    claimed = (
        Notification.objects.filter(key=key, status=N.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_MARGIN))
        .update(status=N.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    )
    if not claimed:
        return None
    return Notification.objects.select_related("recipient").get(key=key)


def _send(row: Notification, connection) -> str:
    """Render and send a claimed row, then mark it: sent, retried or failed."""
    try:
        email = render(row)
        email.to = _address(row)
        _message(row, email, connection).send()
    except Exception as exc:
        permanent = isinstance(exc, Undeliverable) or _permanent(exc)
        return _failed(row, _describe(exc), permanent=permanent)
    _mark(
        row,
        status=N.SENT,
        sent_at=timezone.now(),
        subject=email.subject[:255],
        address=email.to[:254],
        error="",
    )
    return "sent"


def _address(row: Notification) -> str:
    if row.recipient_id is None:
        if not row.address:
            raise Undeliverable("This notification has no recipient.")
        return row.address
    if not row.recipient.is_active:
        raise Undeliverable(f"{row.recipient.get_username()} is no longer an active user.")
    if not row.recipient.email:
        raise Undeliverable(f"{row.recipient.get_username()} has no email address.")
    return row.recipient.email


def _message(row: Notification, email: Email, connection) -> EmailMultiAlternatives:
    # The same Message-ID for every attempt: a copy sent after a worker died mid-send is
    # recognisably the same message.
    digest = hashlib.sha256(row.key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].rstrip(">") or "localhost"
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.text,
        to=[email.to],
        connection=connection,
        headers={"Message-ID": f"<{digest}@{domain}>", **email.headers},
    )
    message.attach_alternative(email.html, "text/html")
    return message


def _failed(row: Notification, error: str, *, permanent: bool) -> str:
    if permanent or row.attempts >= max_attempts():
        _mark(row, status=N.FAILED, error=error)
        logger.warning("notification %s failed for good: %s", row.key, error)
        return "failed"
    delay = backoff(row.attempts)
    now = timezone.now()
    if _mark(
        row,
        status=N.PENDING,
        error=error,
        next_attempt_at=now + datetime.timedelta(seconds=delay),
        dispatched_at=now,
    ):
        from notifications.tasks import deliver as deliver_task

        deliver_task.apply_async(([row.key],), countdown=delay)
    logger.info("notification %s not sent (%s); next attempt in %.0f s", row.key, error, delay)
    return "retried"


def _mark(row: Notification, **fields) -> bool:
    """Record the attempt's result, only if the row is still this attempt's (a sweeper that
    gave up on a stuck attempt may have handed it to another worker)."""
    return bool(
        Notification.objects.filter(pk=row.pk, status=N.SENDING, attempts=row.attempts).update(
            **fields
        )
    )


def _permanent(exc: Exception) -> bool:
    """An SMTP answer that a retry cannot change (5xx), as opposed to 4xx ("try again later")
    and connections that failed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(
            f"{address}: {code} {_text(message)}"
            for address, (code, message) in exc.recipients.items()
        )
        return f"The mail server refused the recipient ({answers})."
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server answered {exc.smtp_code} {_text(exc.smtp_error)}."
    if isinstance(exc, Undeliverable):
        return str(exc)
    if isinstance(exc, OSError):
        return f"The mail server could not be reached: {exc}."
    return f"{type(exc).__name__}: {exc}"


def _text(message) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
