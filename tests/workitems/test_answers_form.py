"""The form an operator corrects a step's answers with (workitems.forms.AnswersForm): it opens
with the answers as stored, for every field type, and saved unchanged gives them back."""

import pytest
from django.http import QueryDict

from orchestrator.plan import load_plan
from orchestrator.specs import (
    APPROVE,
    REJECT,
    FieldSpec,
    OrchestrationSpec,
    ScreenSpec,
    StageSpec,
    StepSpec,
    build,
    choice,
    decision,
)
from runs.answers import fields_of
from workitems.forms import AnswersForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields(assignee):
    first = ScreenSpec(
        "About",
        fields=[
            FieldSpec("name", "Name"),
            FieldSpec("notes", "Notes", "long_text"),
            FieldSpec("desks", "Desks", "integer"),
            FieldSpec("salary", "Salary", "decimal"),
            FieldSpec("start", "Start", "date"),
            FieldSpec("meeting", "Meeting", "datetime"),
            FieldSpec("relocate", "Relocate", "yes_no"),
        ],
    )
    second = ScreenSpec(
        "Setup",
        fields=[
            FieldSpec("team", "Team", "choice", choices=choice("Sales", "Engineering")),
            FieldSpec("kit", "Kit", "multiple_choice", choices=choice("Laptop", "Phone")),
            FieldSpec("email", "Email", "email"),
            FieldSpec("site", "Site", "url"),
            FieldSpec("buddy", "Buddy", "user"),
            decision(APPROVE, REJECT),
        ],
    )
    step = StepSpec("hire", assignee=assignee, screens=[first, second])
    version = build(OrchestrationSpec("forms", stages=[StageSpec("only", steps=[step])]))
    plan = load_plan(version.pk)
    return fields_of(plan, next(iter(plan.steps.values())))


def as_posted(form: AnswersForm) -> QueryDict:
    """What a browser posts for the form as it opens: each widget's value as rendered."""
    data = QueryDict(mutable=True)
    for bound in form.input_fields():
        value = bound.field.widget.format_value(bound.value())
        if isinstance(value, list):
            data.setlist(bound.html_name, value)
        elif value is not None:
            data[bound.html_name] = value
    return data


def test_every_answer_comes_back_unchanged_through_the_form(fields, assignee):
    outputs = {
        "name": "Ana Lima",
        "notes": "Porto <office>",
        "desks": 2,
        "salary": 85000.5,
        "start": "2026-03-02",
        "meeting": "2026-03-02T09:30:00+00:00",
        "relocate": True,
        "team": "Engineering",
        "kit": ["Laptop", "Phone"],
        "email": "ana@example.com",
        "site": "https://example.com/ana",
        "buddy": assignee.pk,
        "decision": "approve",
    }
    opened = AnswersForm(fields, outputs, prefix="answers-1")
    form = AnswersForm(fields, outputs, data=as_posted(opened), prefix="answers-1")
    assert form.is_valid(), form.errors
    assert form.answers() == outputs


def test_the_decision_is_a_choice_among_the_others(fields):
    form = AnswersForm(fields, {"decision": "approve"}, prefix="answers-1")
    html = str(form)
    assert 'type="radio" name="answers-1-decision" value="approve"' in html
    assert 'value="reject"' in html
    assert "Approve" in html and "Reject" in html
    assert 'type="hidden"' not in html
