"""The person who started a run is told when it ends: completed (with the outcome and the
decision's comment), failed, cancelled (with the reason)."""

import pytest

from notifications import delivery
from notifications.models import Notification
from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from tests.workitems.items import launch
from workitems import services

pytestmark = pytest.mark.django_db


def run_end_email(smtp):
    [message] = [m for m in smtp.messages() if not m["Subject"].startswith("New work")]
    return message, message.get_body(("plain",)).get_content()


def test_a_rejected_run_tells_its_starter_the_outcome_and_the_comment(
    approval_flow, assignee, make_user, smtp
):
    hana = make_user("hana", first_name="Hana")
    item = launch("purchase", started_by=hana)
    services.complete_work_item(
        item=item, user=assignee, answers={"decision": "reject", "comment": "Not <this> year."}
    )
    delivery.deliver_due()

    [row] = Notification.objects.filter(kind="run.ended")
    assert (row.recipient, row.status) == (hana, Notification.Status.SENT)
    message, text = run_end_email(smtp)
    assert message["To"] == "hana@example.com"
    assert message["Subject"] == f"Rejected: Purchase (run #{item.run_id})"
    assert "has ended: rejected." in text
    assert 'The decision in "Manager approval" was: Reject.' in text
    assert "The comment: Not <this> year." in text
    assert "Not &lt;this&gt; year." in message.get_body(("html",)).get_content()
    assert f"/runs/{item.run_id}/progress/" in text


def test_a_cancelled_run_tells_its_starter_who_and_why(approval_flow, operator, make_user, smtp):
    hana = make_user("hana")
    item = launch("purchase", started_by=hana)
    engine.cancel_run(run_id=item.run_id, user=operator, reason="Bought elsewhere")
    delivery.deliver_due()

    message, text = run_end_email(smtp)
    assert message["Subject"].startswith("Cancelled: Purchase")
    assert "was cancelled by Otto." in text
    assert "The reason given: Bought elsewhere" in text


def test_a_failed_run_tells_its_starter_the_error(make_user, smtp):
    hana = make_user("hana")
    step = StepSpec("ask", "Ask", assignee="expression:input.nobody")
    build(OrchestrationSpec("broken", "Broken", stages=[StageSpec("s", steps=[step])]))
    run = engine.launch("broken", started_by=hana, inputs={"nobody": "ghost"})
    delivery.deliver_due()

    message, text = run_end_email(smtp)
    assert message["Subject"] == f"Failed: Broken (run #{run.pk})"
    assert 'The error: The assignee of step "Ask"' in text


def test_a_run_started_by_the_system_tells_nobody(approval_flow, assignee):
    item = launch("purchase")
    services.complete_work_item(item=item, user=assignee, answers={"decision": "approve"})

    assert not Notification.objects.filter(kind="run.ended").exists()
