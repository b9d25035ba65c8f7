"""The outbox on a real Celery worker, through the tests' broker, to a real SMTP server in
this process that refuses and then accepts: no message lost, none sent twice."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from notifications.models import Notification
from notifications.sweeper import resend_lost_notifications
from notifications.tasks import deliver
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from tests.support.polling import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
N = Notification.Status


def worker_env(smtp_server) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_server.port),
        "EMAIL_USE_TLS": "false",
        "NOTIFY_RETRY_BACKOFF_SECONDS": "0.2",
    }


def statuses() -> list[str]:
    return list(Notification.objects.order_by("id").values_list("status", flat=True))


def test_smtp_refusing_then_accepting_loses_no_email_and_sends_none_twice(
    laptop_flow, smtp_server, celery_worker_factory
):
    smtp_server.refuse(
        "451 4.3.0 Try again later", "421 4.3.2 Closing", "451 4.3.0 Try again later"
    )
    worker = celery_worker_factory(env=worker_env(smtp_server))

    engine.launch("laptop")

    wait_for(lambda: statuses() == [N.SENT] * 3, message="the three emails to be sent")
    assert smtp_server.refused == 3
    assert smtp_server.recipients() == ["ida@example.com", "ines@example.com", "ivo@example.com"]
    assert sum(row.attempts for row in Notification.objects.all()) == 6
    # The broker delivers the request again: the rows are sent already, nothing goes out.
    result = deliver.apply_async(([row.key for row in Notification.objects.all()],))
    worker.wait_for_task(result.id)
    assert len(smtp_server.messages()) == 3


def test_the_sweeper_resends_a_lost_message_exactly_once(
    assignee, smtp_server, celery_worker_factory, empty_broker
):
    read = StepSpec("read", "Read the memo", assignee=assignee)
    build(OrchestrationSpec("memo", stages=[StageSpec("s", steps=[read])]))
    engine.launch("memo")
    empty_broker()  # the request to send it is lost with the broker
    worker = celery_worker_factory(env=worker_env(smtp_server))

    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=31), tick=False):
        assert resend_lost_notifications() == 1
        assert resend_lost_notifications() == 0

    wait_for(lambda: statuses() == [N.SENT], message="the email to be sent")
    assert smtp_server.recipients() == ["ana@example.com"]
    assert "notifications.tasks.deliver" in worker.log_text()
