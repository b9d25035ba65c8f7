"""Work items to test with: one for a person, one for a queue, one for a group."""

import pytest
from django.test import Client

from orchestrator.specs import (
    APPROVE,
    COMMENT,
    REJECT,
    FieldSpec,
    OrchestrationSpec,
    ScreenSpec,
    StageSpec,
    StepSpec,
    build,
    decision,
)
from tests.workitems.items import launch


@pytest.fixture
def login():
    """A test client logged in as the user."""

    def log_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return log_in


@pytest.fixture
def review_flow(assignee):
    """Two screens for Ana: an expense (text, decimal, date), then a decision and a comment."""
    review = StepSpec(
        "review",
        "Review expense",
        assignee=assignee,
        instructions="Check the claim for {{ input.employee }}.",
        screens=[
            ScreenSpec(
                "The expense",
                [
                    FieldSpec("title", "Title", help_text="What was bought"),
                    FieldSpec("amount", "Amount", "decimal"),
                    FieldSpec("spent_on", "Spent on", "date", required=False),
                ],
            ),
            ScreenSpec(
                "Your decision",
                [
                    decision(APPROVE, REJECT, label="Your decision"),
                    COMMENT,
                ],
            ),
        ],
    )
    after = StepSpec("after", "File the expense", assignee=assignee)
    return build(
        OrchestrationSpec(
            "expense",
            "Expense claim",
            stages=[StageSpec("review", steps=[review]), StageSpec("after", steps=[after])],
        )
    )


@pytest.fixture
def personal_item(review_flow):
    return launch("expense", inputs={"employee": "Bo"})


@pytest.fixture
def queue_item(queue):
    provision = StepSpec(
        "provision",
        "Provision laptop",
        assignee=queue,
        fields=[FieldSpec("asset_tag", "Asset tag")],
    )
    after = StepSpec("after", "Hand over", assignee=queue)
    build(
        OrchestrationSpec(
            "laptop",
            "Laptop request",
            stages=[StageSpec("provision", steps=[provision]), StageSpec("after", steps=[after])],
        )
    )
    return launch("laptop")


@pytest.fixture
def group_item(group):
    assign_desk = StepSpec(
        "assign_desk", "Assign desk", assignee=group, fields=[FieldSpec("desk", "Desk number")]
    )
    after = StepSpec("after", "Label the desk", assignee=group)
    build(
        OrchestrationSpec(
            "desk",
            "Desk booking",
            stages=[StageSpec("assign", steps=[assign_desk]), StageSpec("after", steps=[after])],
        )
    )
    return launch("desk")
