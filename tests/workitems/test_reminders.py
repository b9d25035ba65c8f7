"""Reminders and escalation (workitems.tasks.send_reminders, run by Celery beat)."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from notifications.delivery import deliver_due
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs.models import RunEvent
from tests.workitems.items import launch
from workitems import reminders, tasks
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def sent(*prefixes: str) -> list:
    """Send what the outbox holds (as a worker would), and the emails whose subject starts
    with one of `prefixes` (not the new work announced when the items opened)."""
    deliver_due()
    return [m for m in mail.outbox if m.subject.startswith(prefixes)]


@pytest.fixture
def slow_item(assignee, operator):
    sign = StepSpec(
        "sign",
        "Sign the contract",
        assignee=assignee,
        due_in=2 * DAY,
        remind_every=DAY,
        escalate_after=3 * DAY,
        escalate_to=operator,
    )
    build(
        OrchestrationSpec("contract", "Contract review", stages=[StageSpec("sign", steps=[sign])])
    )
    return launch("contract")


def test_a_due_reminder_is_emailed_once_and_moved_on(slow_item):
    with time_machine.travel(timezone.now() + DAY + datetime.timedelta(minutes=1)):
        assert reminders.send_due_reminders() == 1
        assert reminders.send_due_reminders() == 0

    [email] = sent("Reminder")
    assert email.to == ["ana@example.com"]
    assert email.subject == "Reminder: Sign the contract"
    assert f"/inbox/{slow_item.pk}/" in email.body
    slow_item.refresh_from_db()
    assert slow_item.next_reminder_at == slow_item.created_at + 2 * DAY


def test_reminders_skip_missed_intervals(slow_item):
    with time_machine.travel(timezone.now() + 5 * DAY + datetime.timedelta(hours=1)):
        reminders.send_due_reminders()

    slow_item.refresh_from_db()
    assert slow_item.next_reminder_at == slow_item.created_at + 6 * DAY
    assert len(sent("Reminder")) == 1


def test_a_queue_item_reminds_its_members_or_its_owner(queue, queue_member, make_user):
    fix = StepSpec("fix", "Fix it", assignee=queue, remind_every=DAY)
    build(OrchestrationSpec("ticket", stages=[StageSpec("fix", steps=[fix])]))
    item = launch("ticket")
    queue.members.add(make_user("ben"))

    with time_machine.travel(timezone.now() + DAY + datetime.timedelta(minutes=1)):
        reminders.send_due_reminders()
        first = [m.to for m in sent("Reminder")]
        WorkItem.objects.filter(pk=item.pk).update(owner=queue_member)
    mail.outbox.clear()
    with time_machine.travel(timezone.now() + 2 * DAY + datetime.timedelta(minutes=1)):
        reminders.send_due_reminders()
        second = [m.to for m in sent("Reminder")]

    # One email per member, then only to the member who claimed it.
    assert sorted(first) == [["ben@example.com"], ["quinn@example.com"]]
    assert second == [["quinn@example.com"]]


def test_an_overdue_item_is_escalated_once_and_recorded(login, assignee, operator, slow_item):
    with time_machine.travel(timezone.now() + 3 * DAY + datetime.timedelta(minutes=1)):
        result = tasks.send_reminders()
        again = reminders.escalate_overdue()
        emails = sent("Reminder", "Escalated")

    assert result == {"reminded": 1, "escalated": 1}
    assert again == 0
    slow_item.refresh_from_db()
    assert slow_item.assignee_user == operator
    assert slow_item.escalated_at is not None
    event = RunEvent.objects.get(kind="work_item.escalated")
    assert event.data == {"work_item": slow_item.pk, "previous": "Ana", "to": "Otto"}
    assert [m.subject for m in emails] == [
        "Reminder: Sign the contract",
        "Escalated to you: Sign the contract",
    ]
    assert emails[1].to == ["otto@example.com"]
    # How late, from the due date (two days after it opened) and now (a day later).
    assert "it is 1 day late." in emails[1].body
    assert login(assignee).get(f"/inbox/{slow_item.pk}/").status_code == 404


def test_completed_items_are_left_alone(slow_item):
    WorkItem.objects.filter(pk=slow_item.pk).update(status=WorkItem.Status.COMPLETED)

    with time_machine.travel(timezone.now() + 10 * DAY):
        assert tasks.send_reminders() == {"reminded": 0, "escalated": 0}
    assert sent("Reminder", "Escalated") == []


def test_reminder_and_escalation_emails_show_the_label_as_written_and_escaped_once_in_html(
    assignee, operator
):
    label = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
    sign = StepSpec(
        "sign", label, assignee=assignee, remind_every=DAY, escalate_after=DAY, escalate_to=operator
    )
    build(OrchestrationSpec("nda", "<b>NDA</b>", stages=[StageSpec("sign", steps=[sign])]))
    launch("nda")

    with time_machine.travel(timezone.now() + DAY + datetime.timedelta(minutes=1)):
        reminders.send_due_reminders()
        reminders.escalate_overdue()
        reminder, escalation = sent("Reminder", "Escalated")

    assert reminder.subject == f"Reminder: {label}"
    assert escalation.subject == f"Escalated to you: {label}"
    for email in (reminder, escalation):
        assert email.body.startswith(f'"{label}" (<b>NDA</b>)')
        assert "&lt;" not in email.body and "&amp;" not in email.body
        [(html, mime)] = email.alternatives
        assert mime == "text/html"
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;"
        assert escaped in html and "&amp;lt;" not in html and "<script>" not in html
        assert "&lt;b&gt;NDA&lt;/b&gt;" in html


def test_an_item_is_not_escalated_to_someone_who_may_not_complete_it(assignee, operator):
    sign = StepSpec(
        "sign",
        "Sign the contract",
        assignee=assignee,
        escalate_after=DAY,
        escalate_to=operator,
        exclude_starter=True,
    )
    build(OrchestrationSpec("contract", stages=[StageSpec("sign", steps=[sign])]))
    item = launch("contract", started_by=operator)

    with time_machine.travel(timezone.now() + DAY + datetime.timedelta(minutes=1)):
        assert reminders.escalate_overdue() == 1

    item.refresh_from_db()
    assert item.assignee_user == assignee
    assert item.escalated_at is not None
    event = RunEvent.objects.get(kind="work_item.escalated")
    assert event.data["refused"] == 'Otto started this run and cannot complete "Sign the contract".'
    assert mail.outbox == []
