"""Confidential answers: shown only to the step that asks them, the steps named to see them and
operators who view runs; never in anyone else's HTML or email. Expressions still read them."""

import pytest
from django.core import mail

from orchestrator.models import Field
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run
from tests.runs.engine_helpers import complete, work_background
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db

SALARY = 98765.0
SHOWN = ("98765", "98,765")  # as instructions and as the earlier-answers panel write it


def salary_in(html: str) -> bool:
    return any(text in html for text in SHOWN)


@pytest.fixture
def manager(make_user):
    return make_user("mona", first_name="Mona")


@pytest.fixture
def onboarding(assignee, queue, manager):
    """HR (Ana) enters a new hire with a confidential salary that the approval may see; IT (a
    queue) provisions; the manager approves if the salary is set (an expression reading it);
    two emails: one whose step may see the salary, one whose step may not."""
    hire = StepSpec(
        "new_hire",
        "New hire",
        assignee=assignee,
        fields=[
            FieldSpec("full_name", "Full name"),
            FieldSpec(
                "salary",
                "Annual salary",
                Field.Type.DECIMAL,
                confidential=True,
                visible_to=("approval", "tell_payroll"),
            ),
        ],
    )
    provision = StepSpec(
        "provision",
        "Provision laptop",
        assignee=queue,
        instructions="{{ new_hire.full_name }} joins; salary {{ new_hire.salary }}.",
        fields=[FieldSpec("asset_tag", "Asset tag")],
    )
    approval = StepSpec(
        "approval",
        "Approval",
        assignee=manager,
        entry_condition="new_hire.salary > 0.0",
        fields=[FieldSpec("ok", "Approved", Field.Type.YES_NO)],
    )

    def email(key: str) -> StepSpec:
        return StepSpec(
            key,
            action="send_email",
            parameters={
                "to": f"{key}@example.com",
                "subject": "New hire",
                "body": "{{ new_hire.full_name }} earns {{ new_hire.salary }}.",
            },
        )

    build(
        OrchestrationSpec(
            "onboard",
            stages=[
                StageSpec("hire", steps=[hire]),
                StageSpec("provision", steps=[provision]),
                StageSpec("approval", steps=[approval]),
                StageSpec("emails", steps=[email("tell_payroll"), email("tell_team")]),
            ],
        )
    )


def item_of(run: Run, key: str) -> WorkItem:
    return WorkItem.objects.get(run=run, step__key=key, status="open")


@pytest.fixture
def hired(assignee, onboarding) -> Run:
    run = engine.launch("onboard", started_by=assignee)
    complete(run, "new_hire", assignee, full_name="Bea Lund", salary=SALARY)
    return run


def test_a_queue_member_sees_no_salary_before_or_after_claiming(login, queue_member, hired):
    item = item_of(hired, "provision")
    client = login(queue_member)

    before = client.get(f"/inbox/{item.pk}/").content.decode()
    client.post(f"/inbox/{item.pk}/claim/")
    after = client.get(f"/inbox/{item.pk}/").content.decode()

    for page in (before, after):
        assert "Bea Lund" in page  # the earlier answers and the instructions are there
        assert "Annual salary" not in page
        assert not salary_in(page)


def test_the_step_named_to_see_it_does(login, queue_member, manager, hired):
    provision = item_of(hired, "provision")
    login(queue_member).post(f"/inbox/{provision.pk}/claim/")
    complete(hired, "provision", queue_member, asset_tag="A-1")

    page = login(manager).get(f"/inbox/{item_of(hired, 'approval').pk}/").content.decode()

    assert "Annual salary" in page
    assert "98,765.00" in page


def test_an_operator_sees_it_on_the_run_page_and_in_earlier_answers(login, operator, hired):
    client = login(operator)

    run_page = client.get(f"/runs/{hired.pk}/").content.decode()
    item_page = client.get(f"/inbox/{item_of(hired, 'provision').pk}/").content.decode()

    assert "98,765.00" in run_page
    assert "98,765.00" in item_page


def test_the_progress_page_shows_participants_no_salary(login, queue_member, hired):
    page = login(queue_member).get(f"/runs/{hired.pk}/progress/")

    assert page.status_code == 200
    assert not salary_in(page.content.decode())


def test_expressions_still_read_it_and_only_the_email_named_to_see_it_carries_it(
    queue_member, manager, hired
):
    item = item_of(hired, "provision")
    WorkItem.objects.filter(pk=item.pk).update(owner=queue_member)
    complete(hired, "provision", queue_member, asset_tag="A-1")
    # The approval's entry condition reads the salary: the step starts rather than skips.
    complete(hired, "approval", manager, ok=True)
    work_background(hired)

    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert bodies["tell_payroll@example.com"] == "Bea Lund earns 98765.0."
    assert bodies["tell_team@example.com"] == "Bea Lund earns ."
