"""The run page (/runs/<id>/) lists the run's notifications: recipient, what, state, error."""

import pytest
from django.urls import reverse

from notifications import delivery
from notifications.models import Notification
from tests.workitems.items import launch

pytestmark = pytest.mark.django_db


def flat(response) -> str:
    return " ".join(response.content.decode().split())


def test_the_run_page_shows_each_notification_and_its_state(laptop_flow, smtp, client, operator):
    smtp.refuse("550 5.1.1 No such mailbox", "451 4.3.0 Try again later")
    item = launch("laptop")
    delivery.deliver_due()
    client.force_login(operator)

    html = flat(client.get(reverse("runs:detail", args=[item.run_id])))

    assert '<h2 id="notifications-heading">Notifications</h2>' in html
    rows = {row.status: row for row in Notification.objects.all()}
    assert set(rows) == {"sent", "failed", "pending"}
    for status, label in (("sent", "Sent"), ("failed", "Failed"), ("pending", "Pending")):
        row = rows[status]
        cells = html.split(f'<tr id="notification-{row.pk}">')[1].split("</tr>")[0]
        assert row.recipient.email in cells
        assert "New work item: Provision laptop" in cells
        assert f'<span class="status {status}">{label}</span>' in cells
    assert "The mail server answered 550 5.1.1 No such mailbox." in html
    assert "The mail server answered 451 4.3.0 Try again later." in html
    assert "next attempt" in html


def test_a_run_without_notifications_has_no_such_section(client, operator, assignee):
    from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build

    build(
        OrchestrationSpec(
            "memo", stages=[StageSpec("s", steps=[StepSpec("read", assignee=assignee)])]
        )
    )
    item = launch("memo")
    Notification.objects.all().delete()
    client.force_login(operator)

    assert "notifications-heading" not in flat(
        client.get(reverse("runs:detail", args=[item.run_id]))
    )
