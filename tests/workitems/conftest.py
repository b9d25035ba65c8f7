"""Work items to test with: one for a person, one for a queue, one for a group."""

import pytest
from django.test import Client

from tests.workitems.builders import DECISION, build_orchestration, field, launch


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
    return build_orchestration(
        "expense",
        name="Expense claim",
        steps=[
            {
                "key": "review",
                "label": "Review expense",
                "user": assignee,
                "instructions": "Check the claim for {{ input.employee }}.",
                "screens": [
                    [
                        field("title", label="Title", help_text="What was bought"),
                        field("amount", "decimal", label="Amount"),
                        field("spent_on", "date", label="Spent on", required=False),
                    ],
                    [
                        field("decision", "decision", label="Your decision", choices=DECISION),
                        field("comment", "long_text", label="Comment", required=False),
                    ],
                ],
            },
            {"key": "after", "label": "File the expense", "user": assignee},
        ],
    )


@pytest.fixture
def personal_item(review_flow):
    return launch("expense", inputs={"employee": "Bo"})


@pytest.fixture
def queue_item(queue):
    build_orchestration(
        "laptop",
        name="Laptop request",
        steps=[
            {
                "key": "provision",
                "label": "Provision laptop",
                "queue": queue,
                "fields": [field("asset_tag", label="Asset tag")],
            },
            {"key": "after", "label": "Hand over", "queue": queue},
        ],
    )
    return launch("laptop")


@pytest.fixture
def group_item(group):
    build_orchestration(
        "desk",
        name="Desk booking",
        steps=[
            {
                "key": "assign_desk",
                "label": "Assign desk",
                "group": group,
                "fields": [field("desk", label="Desk number")],
            },
            {"key": "after", "label": "Label the desk", "group": group},
        ],
    )
    return launch("desk")
