"""Separation of duties: a step that excludes the run's starter, or whoever completed an
earlier step, is never assigned, claimed, handed to or completed by them."""

import pytest
from django.utils.html import escape

from orchestrator.models import Field
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run
from tests.runs.engine_helpers import complete
from tests.workitems.items import launch
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db


def one_step(assignee, **exclusions) -> None:
    """An orchestration "check" of one step, "Approve", for `assignee`."""
    approve = StepSpec("approve", "Approve", assignee=assignee, **exclusions)
    build(OrchestrationSpec("check", stages=[StageSpec("approve", steps=[approve])]))


@pytest.fixture
def form_then_approval(make_user):
    """A form filled in by the starter, naming the approver; the approver may not be the
    person who filled it in."""
    form = StepSpec(
        "form",
        "Expense form",
        assignee="starter",
        fields=[FieldSpec("approver", "Approver", Field.Type.USER)],
    )
    approval = StepSpec(
        "approval",
        "Approval",
        assignee="expression:form.approver",
        exclude_completers_of=("form",),
    )
    build(
        OrchestrationSpec(
            "expense",
            stages=[StageSpec("form", steps=[form]), StageSpec("approval", steps=[approval])],
        )
    )


def approval_item(run: Run) -> WorkItem:
    return WorkItem.objects.get(run=run, step__key="approval", status="open")


# Assignment -----------------------------------------------------------------------------------


def test_an_expression_naming_the_form_filler_leaves_the_item_unassigned_and_says_why(
    login, assignee, operator, form_then_approval
):
    run = engine.launch("expense", started_by=assignee)
    complete(run, "form", assignee, approver=assignee.pk)

    item = approval_item(run)
    assert item.assignee_user_id is None
    assert item.unassigned_because == (
        'Ana completed "Expense form" and cannot complete "Approval". '
        "An operator must hand it to someone else."
    )
    run.refresh_from_db()
    assert run.status == "running"
    client = login(operator)
    assert escape(item.unassigned_because) in client.get(f"/runs/{run.pk}/").content.decode()
    assert escape(item.unassigned_because) in client.get(f"/inbox/{item.pk}/").content.decode()


def test_an_expression_naming_someone_else_assigns_them(assignee, outsider, form_then_approval):
    run = engine.launch("expense", started_by=assignee)
    complete(run, "form", assignee, approver=outsider.pk)

    item = approval_item(run)
    assert (item.assignee_user, item.unassigned_because) == (outsider, "")


def test_a_user_assignee_who_started_the_run_is_not_assigned(assignee):
    one_step(assignee, exclude_starter=True)

    item = launch("check", started_by=assignee)

    assert item.assignee_user_id is None
    assert item.unassigned_because.startswith('Ana started this run and cannot complete "Approve".')


# Claim ------------------------------------------------------------------------------------------


def test_a_queue_member_who_started_the_run_is_not_offered_the_claim_and_cannot_claim(
    login, queue, queue_member
):
    one_step(queue, exclude_starter=True)
    item = launch("check", started_by=queue_member)
    client = login(queue_member)
    sentence = escape('You started this run and cannot complete "Approve".')

    inbox = client.get("/inbox/").content.decode()
    page = client.get(f"/inbox/{item.pk}/").content.decode()
    refused = client.post(f"/inbox/{item.pk}/claim/", follow=True)

    assert sentence in inbox
    assert f'action="/inbox/{item.pk}/claim/"' not in inbox
    assert sentence in page and f'action="/inbox/{item.pk}/claim/"' not in page
    assert refused.status_code == 200 and sentence in refused.content.decode()
    item.refresh_from_db()
    assert item.owner is None


def test_a_queue_member_who_did_not_start_the_run_claims_it(login, queue, queue_member, outsider):
    one_step(queue, exclude_starter=True)
    item = launch("check", started_by=outsider)

    inbox = login(queue_member).get("/inbox/").content.decode()
    login(queue_member).post(f"/inbox/{item.pk}/claim/")

    assert f'action="/inbox/{item.pk}/claim/"' in inbox
    item.refresh_from_db()
    assert item.owner == queue_member


def test_an_inbox_claim_by_htmx_is_refused_with_the_reason(login, queue, queue_member):
    one_step(queue, exclude_starter=True)
    item = launch("check", started_by=queue_member)

    response = login(queue_member).post(
        f"/inbox/{item.pk}/claim/", {"from": "inbox"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert (
        escape('You started this run and cannot complete "Approve".') in response.content.decode()
    )


# Reassign ---------------------------------------------------------------------------------------


def test_the_assignee_cannot_hand_the_item_to_the_person_who_started_the_run(
    login, assignee, outsider
):
    one_step(assignee, exclude_starter=True)
    item = launch("check", started_by=outsider)
    client = login(assignee)

    page = client.get(f"/inbox/{item.pk}/").content.decode()
    refused = client.post(f"/inbox/{item.pk}/reassign/", {"to": f"user:{outsider.pk}"}, follow=True)

    assert f'value="user:{outsider.pk}"' not in page
    assert (
        escape('Olga started this run and cannot complete "Approve".') in refused.content.decode()
    )
    item.refresh_from_db()
    assert item.assignee_user == assignee


def test_an_operator_cannot_hand_the_item_to_the_form_filler_from_the_run_page(
    login, assignee, outsider, operator, form_then_approval
):
    run = engine.launch("expense", started_by=assignee)
    complete(run, "form", assignee, approver=outsider.pk)
    item = approval_item(run)

    refused = login(operator).post(
        f"/runs/{run.pk}/work-items/{item.pk}/reassign/",
        {"username": assignee.username, "reason": "Ana is back"},
        follow=True,
    )

    assert escape('Ana completed "Expense form" and cannot complete "Approval".') in (
        refused.content.decode()
    )
    item.refresh_from_db()
    assert item.assignee_user == outsider


def test_an_operator_hands_an_unassigned_item_to_someone_allowed(
    login, assignee, outsider, operator, form_then_approval
):
    run = engine.launch("expense", started_by=assignee)
    complete(run, "form", assignee, approver=assignee.pk)
    item = approval_item(run)

    login(operator).post(
        f"/runs/{run.pk}/work-items/{item.pk}/reassign/",
        {"username": outsider.username, "reason": "Ana may not approve her own expense"},
    )

    item.refresh_from_db()
    assert (item.assignee_user, item.unassigned_because) == (outsider, "")


# Complete ---------------------------------------------------------------------------------------


def test_a_group_member_who_started_the_run_is_refused_completion_and_keeps_the_answers(
    login, group, group_member
):
    one_step(group, exclude_starter=True)
    item = launch("check", started_by=group_member)
    client = login(group_member)
    sentence = escape('You started this run and cannot complete "Approve".')

    page = client.get(f"/inbox/{item.pk}/").content.decode()
    refused = client.post(f"/inbox/{item.pk}/screen/", {"_screen": "0", "_nav": "complete"})

    assert sentence in page and f'action="/inbox/{item.pk}/screen/"' not in page
    assert refused.status_code == 200 and sentence in refused.content.decode()
    item.refresh_from_db()
    assert item.is_open


def test_the_engine_refuses_a_completion_by_an_excluded_person(assignee, group, group_member):
    one_step(group, exclude_starter=True)
    item = launch("check", started_by=group_member)

    with pytest.raises(engine.CompletionRefused, match="You started this run"):
        engine.complete_step(
            run_id=item.run_id, step_run_id=item.step_run_id, outputs={}, user=group_member
        )
    item.refresh_from_db()
    assert item.is_open


def test_the_answers_typed_before_a_refused_completion_are_kept(
    login, group, group_member, make_user
):
    review = StepSpec(
        "approve",
        "Approve",
        assignee=group,
        exclude_starter=True,
        fields=[FieldSpec("note", "Note")],
    )
    build(OrchestrationSpec("check", stages=[StageSpec("approve", steps=[review])]))
    item = launch("check", started_by=group_member)

    refused = login(group_member).post(
        f"/inbox/{item.pk}/screen/", {"_screen": "0", "_nav": "complete", "note": "typed text"}
    )

    assert "typed text" in refused.content.decode()


# The inbox ----------------------------------------------------------------------------------


def test_the_inbox_says_why_in_two_more_queries_whatever_the_number_of_rows(
    login, queue, queue_member, group, group_member, django_assert_num_queries
):
    """Rows whose step names earlier steps cost two queries for the whole page: the steps
    they name, and which of those the user completed in these runs."""
    queue_member.groups.add(group)
    form = StepSpec("form", "Form", assignee="starter")
    by_queue = StepSpec("check", "Check", assignee=queue, exclude_completers_of=("form",))
    by_group = StepSpec("sign", "Sign", assignee=group, exclude_completers_of=("form",))
    build(
        OrchestrationSpec(
            "twice",
            stages=[
                StageSpec("form", steps=[form]),
                StageSpec("check", steps=[by_queue, by_group]),
            ],
        )
    )
    for _ in range(3):
        run = engine.launch("twice", started_by=queue_member)
        complete(run, "form", queue_member)
    client = login(queue_member)
    client.get("/inbox/")  # the session, once

    with django_assert_num_queries(10):
        inbox = client.get("/inbox/").content.decode()

    assert inbox.count(escape('You completed "Form" and cannot complete "Check".')) == 3
    assert inbox.count(escape('You completed "Form" and cannot complete "Sign".')) == 3
    assert "/claim/" not in inbox
