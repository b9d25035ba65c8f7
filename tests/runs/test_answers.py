"""runs/answers.py: one formatter for answers, used by the run page and a work item's page."""

import pytest
from django.urls import reverse

from orchestrator.models import Field
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.answers import answers, display_answer, display_value
from tests.runs.engine_helpers import complete
from workitems.models import WorkItem

T = Field.Type


def field(type_: str, key: str = "x", label: str = "X", choices=None) -> Field:
    return Field(key=key, label=label, type=type_, choices=choices or [])


@pytest.mark.parametrize(
    ("type_", "value", "text"),
    [
        (T.DECIMAL, 85000.0, "85,000.00"),
        (T.DECIMAL, 85000, "85,000.00"),
        (T.DECIMAL, 12.5, "12.50"),
        (T.INTEGER, 85000, "85000"),
        (T.YES_NO, True, "Yes"),
        (T.YES_NO, False, "No"),
        (T.TEXT, "", "—"),
        (T.TEXT, None, "—"),
        (T.MULTIPLE_CHOICE, [], "—"),
        (T.DATE, "2025-03-03", "3 Mar 2025"),
        (T.DATE, "not a date", "not a date"),
        (T.DATETIME, "2025-03-03T09:30:00", "3 Mar 2025 09:30"),
        (T.LONG_TEXT, "Two\nlines", "Two\nlines"),
    ],
)
def test_an_answer_reads_as_a_person_expects(type_, value, text):
    assert display_answer(field(type_), value, {}) == text


def test_choices_show_their_labels_and_lists_are_joined():
    choices = [{"value": "eng", "label": "Engineering"}, {"value": "ops", "label": "Operations"}]
    assert display_answer(field(T.CHOICE, choices=choices), "eng", {}) == "Engineering"
    assert display_answer(field(T.DECISION, choices=choices), "ops", {}) == "Operations"
    assert display_answer(field(T.CHOICE, choices=choices), "gone", {}) == "gone"
    assert (
        display_answer(field(T.MULTIPLE_CHOICE, choices=choices), ["eng", "ops", "new"], {})
        == "Engineering, Operations, new"
    )


def test_people_are_named_and_an_unknown_id_says_so():
    assert display_answer(field(T.USER), 7, {7: "Mia Lopez"}) == "Mia Lopez"
    assert display_answer(field(T.USER), 8, {7: "Mia Lopez"}) == "user 8"


def test_values_without_a_field():
    assert display_value(True) == "Yes"
    assert display_value(False) == "No"
    assert display_value(None) == "—"
    assert display_value({}) == "—"
    assert display_value([1, True, "a"]) == "1, Yes, a"
    assert display_value({"queue": "IT", "urgent": False}) == "queue: IT, urgent: No"
    assert display_value(85000.0) == "85000.0"  # no field: not known to be money


def test_answers_follow_the_fields_then_the_other_outputs():
    fields = [field(T.DECIMAL, "salary", "Salary"), field(T.YES_NO, "remote", "Remote")]
    outputs = {"remote": True, "extra_note": "hi", "salary": 85000.0}
    assert answers(fields, outputs, {}) == [
        ("Salary", "85,000.00"),
        ("Remote", "Yes"),
        ("Extra note", "hi"),
    ]


# Both pages -----------------------------------------------------------------------------


@pytest.fixture
def answered_run(assignee, make_user):
    manager = make_user("mia", first_name="Mia", last_name="Lopez")
    fields = [
        FieldSpec("salary", "Salary", "decimal"),
        FieldSpec("remote", "Remote", "yes_no"),
        FieldSpec("manager", "Manager", "user"),
        FieldSpec(
            "tools", "Tools", "multiple_choice", choices=[("mac", "MacBook"), ("vpn", "VPN")]
        ),
    ]
    form = StepSpec("form", assignee=assignee, fields=fields)
    approval = StepSpec("approval", assignee=assignee)
    build(
        OrchestrationSpec(
            "hire", stages=[StageSpec("hr", steps=[form]), StageSpec("review", steps=[approval])]
        )
    )
    run = engine.launch("hire")
    complete(
        run,
        "form",
        assignee,
        salary=85000.0,
        remote=False,
        manager=manager.pk,
        tools=["mac", "vpn"],
    )
    return run


EXPECTED = [
    "<dt>Salary</dt><dd>85,000.00</dd>",
    "<dt>Remote</dt><dd>No</dd>",
    "<dt>Manager</dt><dd>Mia Lopez</dd>",
    "<dt>Tools</dt><dd>MacBook, VPN</dd>",
]


@pytest.mark.django_db
def test_the_run_page_and_the_work_item_page_show_the_same_answers(
    client, operator, assignee, answered_run
):
    client.force_login(operator)
    run_page = client.get(reverse("runs:detail", args=[answered_run.pk])).content.decode()
    item = WorkItem.objects.get(run=answered_run, status=WorkItem.Status.OPEN)
    client.force_login(assignee)
    item_page = client.get(reverse("workitems:work_item", args=[item.pk])).content.decode()
    for text in EXPECTED:
        assert text in run_page
        assert text in item_page
    assert "<dd>85000.0</dd>" not in run_page  # (the raw value stays in the run data)
