"""The outbox in this process: rows written with their cause, each sent once, through a real
SMTP server that refuses and then accepts; a frozen clock moves to the retries."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from notifications import delivery
from notifications.models import Notification
from notifications.sweeper import resend_lost_notifications
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from tests.workitems.items import launch, open_item
from workitems import reminders, services

pytestmark = pytest.mark.django_db
N = Notification.Status
SECOND = datetime.timedelta(seconds=1)


def rows(**filters) -> list[Notification]:
    return list(Notification.objects.filter(**filters).order_by("id"))


def test_an_item_for_a_queue_of_three_sends_three_emails_each_once(laptop_flow, smtp):
    item = launch("laptop")

    first = delivery.deliver_due()
    again = delivery.deliver_due()

    assert first == {"sent": 3, "retried": 0, "failed": 0}
    assert again == {"sent": 0, "retried": 0, "failed": 0}
    assert smtp.recipients() == ["ida@example.com", "ines@example.com", "ivo@example.com"]
    assert {row.status for row in rows()} == {N.SENT}
    message = smtp.messages()[0]
    assert message["Subject"] == "New work: Provision laptop"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert f"/inbox/{item.pk}/" in part
        assert "Provision laptop" in part and "No due date" in part
    assert "claim it to work on it" in text


def test_a_message_delivered_twice_sends_once(laptop_flow, smtp):
    launch("laptop")
    keys = [row.key for row in rows()]

    sent = delivery.deliver([*keys, *keys])  # the broker delivered the request twice

    assert sent["sent"] == 3
    assert len(smtp.messages()) == 3


def test_smtp_refusing_then_accepting_loses_nothing_and_sends_nothing_twice(laptop_flow, smtp):
    smtp.refuse("451 4.3.0 Try again later", "421 4.3.2 Service shutting down")
    launch("laptop")
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert delivery.deliver_due() == {"sent": 1, "retried": 2, "failed": 0}
        waiting = rows(status=N.PENDING)
        # Nothing more before the retries are due.
        assert delivery.deliver_due()["sent"] == 0
    assert [row.attempts for row in waiting] == [1, 1]
    assert {row.error for row in waiting} == {
        "The mail server answered 451 4.3.0 Try again later.",
        "The mail server answered 421 4.3.2 Service shutting down.",
    }
    assert {row.next_attempt_at for row in waiting} == {start + 30 * SECOND}

    with time_machine.travel(start + 31 * SECOND, tick=False):
        assert delivery.deliver_due() == {"sent": 2, "retried": 0, "failed": 0}
        assert delivery.deliver_due()["sent"] == 0

    assert smtp.refused == 2
    assert smtp.recipients() == ["ida@example.com", "ines@example.com", "ivo@example.com"]
    assert [(row.status, row.attempts) for row in rows()].count((N.SENT, 2)) == 2


def test_a_permanent_refusal_fails_the_row_with_the_error(laptop_flow, smtp):
    smtp.refuse("550 5.1.1 No such mailbox")
    launch("laptop")

    assert delivery.deliver_due() == {"sent": 2, "retried": 0, "failed": 1}

    [failed] = rows(status=N.FAILED)
    assert failed.error == "The mail server answered 550 5.1.1 No such mailbox."
    assert failed.next_attempt_at is None


def test_retries_stop_after_the_last_attempt(laptop_flow, smtp, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    launch("laptop")
    Notification.objects.exclude(pk=rows()[0].pk).delete()
    smtp.refuse(*["451 4.3.0 Try again later"] * 3)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        delivery.deliver_due()
    with time_machine.travel(start + 31 * SECOND, tick=False):
        assert delivery.deliver_due() == {"sent": 0, "retried": 0, "failed": 1}

    [row] = rows()
    assert (row.status, row.attempts) == (N.FAILED, 2)


def test_a_rolled_back_transaction_writes_and_sends_nothing(
    laptop_flow, smtp, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        engine.launch("laptop")
        assert len(rows()) == 3
        raise RuntimeError("the caller changed its mind")

    assert callbacks == []
    assert rows() == []
    assert delivery.deliver_due()["sent"] == 0
    assert smtp.messages() == []


def test_a_committed_launch_asks_a_worker_once_for_its_rows(
    laptop_flow, django_capture_on_commit_callbacks, monkeypatch
):
    asked = []
    monkeypatch.setattr(
        "notifications.tasks.deliver.apply_async", lambda args, **kw: asked.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        engine.launch("laptop")

    assert asked == [([row.key for row in rows()],)]


def test_reassigning_an_item_tells_the_new_assignee_once(assignee, make_user, smtp, operator):
    build(
        OrchestrationSpec(
            "memo", stages=[StageSpec("s", steps=[StepSpec("read", "Read", assignee=assignee)])]
        )
    )
    item = launch("memo")
    delivery.deliver_due()
    bea = make_user("bea")

    services.reassign_work_item(item=item, user=operator, to_user=bea, reason="Ana is away")
    delivery.deliver_due()

    new = [row for row in rows() if row.kind == "work_item.reassigned"]
    assert [(row.recipient, row.status) for row in new] == [(bea, N.SENT)]
    message = smtp.messages()[-1]
    assert message["To"] == "bea@example.com"
    assert message["Subject"] == "Assigned to you: Read"
    text = message.get_body(("plain",)).get_content()
    assert "was handed to you by Otto" in text and "The reason given: Ana is away" in text


def test_escalation_tells_the_new_assignee_how_late_the_item_is(assignee, operator, smtp):

    day = datetime.timedelta(days=1)
    sign = StepSpec(
        "sign", "Sign", assignee=assignee, due_in=day, escalate_after=2 * day, escalate_to=operator
    )
    build(OrchestrationSpec("nda", "NDA", stages=[StageSpec("s", steps=[sign])]))
    item = launch("nda")
    delivery.deliver_due()

    with time_machine.travel(
        item.created_at + 2 * day + 3 * datetime.timedelta(hours=1), tick=False
    ):
        assert reminders.escalate_overdue() == 1
        assert reminders.escalate_overdue() == 0
        delivery.deliver_due()

    [escalated] = rows(kind="work_item.escalated")
    assert (escalated.recipient, escalated.status) == (operator, N.SENT)
    message = smtp.messages()[-1]
    assert message["Subject"] == "Escalated to you: Sign"
    text = message.get_body(("plain",)).get_content()
    assert "it is 1 day, 3 hours late." in text


def test_the_sweeper_asks_again_for_a_lost_row_once(laptop_flow, smtp, monkeypatch):
    asked = []
    monkeypatch.setattr(
        "notifications.tasks.deliver.apply_async", lambda args, **kw: asked.append(args[0])
    )
    launch("laptop")  # its request to a worker is never sent: the test's transaction

    assert resend_lost_notifications() == 0  # not lost yet: just written
    with time_machine.travel(timezone.now() + 31 * SECOND, tick=False):
        with transaction.atomic():
            assert resend_lost_notifications() == 3
        assert resend_lost_notifications() == 0  # asked again just now

    assert delivery.deliver_due()["sent"] == 3
    assert len(smtp.messages()) == 3


def test_a_row_stuck_sending_after_a_worker_died_is_sent_again(laptop_flow, smtp):
    launch("laptop")
    [row, *_] = rows()
    Notification.objects.filter(pk=row.pk).update(
        status=N.SENDING, attempts=1, claimed_at=timezone.now()
    )

    with time_machine.travel(timezone.now() + 301 * SECOND, tick=False):
        # The stuck row, and the two others whose request was never sent (the test's
        # transaction never commits).
        assert resend_lost_notifications() == 3
        row.refresh_from_db()
        assert (row.status, row.error) == (
            N.PENDING,
            "The worker sending this stopped before it finished; sending again.",
        )
        delivery.deliver_due()

    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == (N.SENT, 2, "")
    assert len(smtp.messages()) == 3


def test_a_user_without_an_address_fails_with_a_sentence(assignee, smtp):
    assignee.email = ""
    assignee.save()
    build(
        OrchestrationSpec(
            "memo", stages=[StageSpec("s", steps=[StepSpec("read", assignee=assignee)])]
        )
    )
    launch("memo")

    assert delivery.deliver_due()["failed"] == 1
    assert rows()[0].error == "ana has no email address."


def test_the_email_escapes_a_step_label_once(assignee, smtp):
    step = StepSpec("read", "Read <b>this</b> & sign", assignee=assignee)
    build(OrchestrationSpec("memo", "<i>Memo</i>", stages=[StageSpec("s", steps=[step])]))
    engine.launch("memo", title="Q3 <script>")
    delivery.deliver_due()

    [message] = smtp.messages()
    assert message["Subject"] == "New work: Read <b>this</b> & sign"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert '"Read <b>this</b> & sign" (<i>Memo</i> for Q3 <script>)' in text
    assert "&lt;" not in text and "&amp;" not in text
    assert "Read &lt;b&gt;this&lt;/b&gt; &amp; sign" in html
    assert "Q3 &lt;script&gt;" in html and "&lt;i&gt;Memo&lt;/i&gt;" in html
    assert "<b>" not in html and "<script>" not in html and "&amp;lt;" not in html


def test_an_item_for_a_group_tells_each_member(facilities, smtp):
    build(
        OrchestrationSpec(
            "desk",
            stages=[StageSpec("s", steps=[StepSpec("desk", "Assign desk", assignee=facilities)])],
        )
    )
    item = launch("desk")
    delivery.deliver_due()

    assert smtp.recipients() == ["fay@example.com", "fred@example.com"]
    text = smtp.messages()[0].get_body(("plain",)).get_content()
    assert "as a member of Facilities: the first to act completes it" in text
    assert open_item(item.run_id) == item


def test_a_queue_member_who_may_not_complete_the_step_is_not_told(queue_of_three, smtp):
    provision = StepSpec(
        "provision", "Provision laptop", assignee=queue_of_three, exclude_starter=True
    )
    build(OrchestrationSpec("laptop", stages=[StageSpec("it", steps=[provision])]))
    ivo = queue_of_three.members.get(username="ivo")
    launch("laptop", started_by=ivo)

    delivery.deliver_due()

    assert smtp.recipients() == ["ida@example.com", "ines@example.com"]
