"""Which steps can be answered without their screen (workitems.decisions.quick_decision)."""

import pytest

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
from workitems.decisions import quick_decision

pytestmark = pytest.mark.django_db


def flow_of(assignee, **step):
    spec = OrchestrationSpec(
        "quick", stages=[StageSpec("only", steps=[StepSpec("s", assignee=assignee, **step)])]
    )
    return build(spec).screen_flows.get()


def test_a_decision_and_an_optional_comment_is_a_quick_decision(assignee):
    quick = quick_decision(flow_of(assignee, fields=[decision(APPROVE, REJECT), COMMENT]))
    assert quick.choices == [("approve", "Approve"), ("reject", "Reject")]
    assert quick.label_of("reject") == "Reject"
    assert quick.label_of("maybe") is None
    assert quick.answers("approve", "ok") == {"decision": "approve", "comment": "ok"}


def test_a_decision_alone_is_a_quick_decision(assignee):
    quick = quick_decision(flow_of(assignee, fields=[decision(APPROVE, REJECT)]))
    assert quick.comment is None
    assert quick.answers("reject") == {"decision": "reject"}


@pytest.mark.parametrize(
    "step",
    [
        {"fields": [FieldSpec("amount", "Amount", "decimal"), decision(APPROVE, REJECT)]},
        {"fields": [decision(APPROVE, REJECT), FieldSpec("why", "Why", "long_text")]},
        {"fields": [FieldSpec("name", "Name")]},
        {
            "screens": [
                ScreenSpec("One", fields=[COMMENT]),
                ScreenSpec("Two", fields=[decision(APPROVE, REJECT)]),
            ]
        },
    ],
    ids=["another field", "a required comment", "no decision", "two screens"],
)
def test_other_forms_need_their_screen(assignee, step):
    assert quick_decision(flow_of(assignee, **step)) is None
