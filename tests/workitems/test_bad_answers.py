"""Bad answers posted to a screen (POST /inbox/<id>/screen/): each is an inline error beside
its field, never a 500, and nothing the database or the run could not hold is stored: not in
the draft, not as the step's outputs, not as the record the step creates."""

from decimal import Decimal

import pytest

from demo.models import Employee
from orchestrator.models import Field
from orchestrator.specs import FieldSpec, OrchestrationSpec, ScreenSpec, StageSpec, StepSpec, build
from runs.models import StepRun
from tests.workitems.items import launch
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db

T = Field.Type
INT64_MAX = 2**63 - 1


@pytest.fixture
def form_item(assignee):
    """One screen for Ana with a field of each bounded type."""
    fill = StepSpec(
        "fill",
        "Fill in",
        assignee=assignee,
        fields=[
            FieldSpec("title", "Title", required=False),
            FieldSpec("notes", "Notes", T.LONG_TEXT, required=False),
            FieldSpec("count", "Count", T.INTEGER, required=False),
            FieldSpec("amount", "Amount", T.DECIMAL, required=False),
            FieldSpec("email", "Email", T.EMAIL, required=False),
        ],
    )
    after = StepSpec("after", "After", assignee=assignee)
    build(
        OrchestrationSpec(
            "form", stages=[StageSpec("fill", steps=[fill]), StageSpec("after", steps=[after])]
        )
    )
    return launch("form")


def submit(client, item, nav="complete", screen=0, **values):
    return client.post(f"/inbox/{item.pk}/screen/", {"_screen": str(screen), "_nav": nav, **values})


def field_errors(response, key: str) -> str:
    """The error list beside the field `key`, as HTML ("" when there is none)."""
    html = response.content.decode()
    start = html.find(f'<ul class="errorlist" id="id_{key}_error">')
    return "" if start < 0 else html[start : html.index("</ul>", start)]


def assert_nothing_completed(item: WorkItem) -> None:
    step_run = StepRun.objects.get(pk=item.step_run_id)
    assert step_run.status == StepRun.Status.WAITING
    assert step_run.outputs == {}


@pytest.mark.parametrize("value", ["1e400", "inf", "-inf", "nan", "Infinity", "NaN", "1e-400"])
def test_a_decimal_that_is_not_a_plain_number_is_a_field_error(login, assignee, form_item, value):
    response = submit(login(assignee), form_item, amount=value)

    assert response.status_code == 200
    assert field_errors(response, "amount")
    assert_nothing_completed(form_item)


def test_a_decimal_keeps_to_the_digits_of_its_field(login, assignee, form_item):
    client = login(assignee)

    too_many_places = submit(client, form_item, amount="12.345")
    too_many_digits = submit(client, form_item, amount="1" * 17 + ".00")

    assert "no more than 2 decimal places" in field_errors(too_many_places, "amount")
    assert "no more than 18 digits" in field_errors(too_many_digits, "amount")
    assert_nothing_completed(form_item)
    assert submit(client, form_item, amount="1" * 16 + ".99").status_code == 302


def test_a_number_keeps_to_its_fields_bounds(login, assignee):
    fields = [
        FieldSpec("seats", "Seats", T.INTEGER, min_value=1, max_value=12),
        FieldSpec("rate", "Rate", T.DECIMAL, decimal_places=3, min_value=Decimal("0.5")),
    ]
    build(
        OrchestrationSpec(
            "seats",
            stages=[StageSpec("s", steps=[StepSpec("pick", assignee=assignee, fields=fields)])],
        )
    )
    item = launch("seats")
    client = login(assignee)

    low = submit(client, item, seats="0", rate="0.125")
    high = submit(client, item, seats="13", rate="0.5")

    assert "Enter a number no smaller than 1." in field_errors(low, "seats")
    assert "Enter a number no smaller than 0.5." in field_errors(low, "rate")
    assert "Enter a number no larger than 12." in field_errors(high, "seats")
    assert not field_errors(high, "rate")
    assert_nothing_completed(item)
    assert submit(client, item, seats="12", rate="0.625").status_code == 302
    assert StepRun.objects.get(pk=item.step_run_id).outputs == {"seats": 12, "rate": 0.625}


@pytest.mark.parametrize("value", [str(INT64_MAX + 1), str(-(2**63) - 1), "9" * 5000])
def test_a_whole_number_beyond_what_expressions_hold_is_a_field_error(
    login, assignee, form_item, value
):
    response = submit(login(assignee), form_item, count=value)

    assert response.status_code == 200
    assert field_errors(response, "count")
    assert_nothing_completed(form_item)


def test_the_largest_whole_number_expressions_hold_is_accepted(login, assignee, form_item):
    response = submit(login(assignee), form_item, count=str(INT64_MAX))

    assert response.status_code == 302
    assert StepRun.objects.get(pk=form_item.step_run_id).outputs["count"] == INT64_MAX


@pytest.mark.parametrize("nav", ["next", "complete", "back"])
def test_a_nul_character_is_a_field_error_and_never_reaches_the_draft(
    login, assignee, form_item, nav
):
    # On PostgreSQL the draft (jsonb) cannot hold \u0000: writing it was a 500.
    response = submit(login(assignee), form_item, nav=nav, title="Tax\x00i", notes="a\x00b")

    assert response.status_code == 200
    form_item.refresh_from_db()
    assert "\x00" not in repr(form_item.draft)
    assert form_item.draft["title"] == "Taxi"  # what was typed, without the NUL
    assert_nothing_completed(form_item)
    if nav != "back":
        assert "Null characters are not allowed." in field_errors(response, "title")


@pytest.mark.parametrize("nav", ["next", "complete", "back"])
@pytest.mark.parametrize("key", ["title", "notes", "count", "email"])
def test_a_megabyte_answer_is_refused_without_being_kept_as_a_draft(
    login, assignee, form_item, nav, key
):
    WorkItem.objects.filter(pk=form_item.pk).update(draft={"title": "Earlier"})

    response = submit(login(assignee), form_item, nav=nav, **{key: "9" * 1_000_000})

    assert response.status_code == 200
    assert field_errors(response, key)
    form_item.refresh_from_db()
    assert key not in form_item.draft or len(form_item.draft[key]) < 1000
    assert len(repr(form_item.draft)) < 1000
    assert_nothing_completed(form_item)


@pytest.mark.parametrize("key", ["title", "email"])
@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r"])
def test_a_line_break_in_a_one_line_answer_is_a_field_error(
    login, assignee, form_item, key, line_break
):
    value = f"ana@example.com{line_break}Bcc: all@example.com"

    response = submit(login(assignee), form_item, **{key: value})

    assert response.status_code == 200
    assert field_errors(response, key)
    assert_nothing_completed(form_item)


def test_a_long_text_may_have_line_breaks(login, assignee, form_item):
    response = submit(login(assignee), form_item, notes="First line\r\nSecond line")

    assert response.status_code == 302
    assert "\nSecond line" in StepRun.objects.get(pk=form_item.step_run_id).outputs["notes"]


# The record a step creates ------------------------------------------------------------------


@pytest.fixture
def hire_item(assignee):
    """Two screens for Ana whose answers create an Employee (full_name: 200 characters)."""
    hire = StepSpec(
        "hire",
        "New hire",
        assignee=assignee,
        creates_record="demo.Employee",
        screens=[
            ScreenSpec("Who", [FieldSpec("full_name", "Full name")]),
            ScreenSpec(
                "Pay",
                [
                    FieldSpec("email", "Email", T.EMAIL),
                    FieldSpec("annual_salary", "Salary", T.DECIMAL, required=False),
                ],
            ),
        ],
    )
    build(OrchestrationSpec("hire", stages=[StageSpec("hire", steps=[hire])]))
    return launch("hire")


def test_an_answer_the_record_cannot_hold_is_an_error_on_its_screen(login, assignee, hire_item):
    client = login(assignee)
    assert submit(client, hire_item, nav="next", full_name="N" * 201).status_code == 200

    response = submit(client, hire_item, screen=1, email="new@example.com")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Please check the answers on this screen." in html
    assert 'name="full_name"' in html  # back on the screen that holds the field
    assert "at most 200 characters (it has 201)" in field_errors(response, "full_name")
    assert Employee.objects.count() == 0
    assert_nothing_completed(hire_item)


def test_an_answer_on_the_last_screen_the_record_cannot_hold(login, assignee, hire_item):
    client = login(assignee)
    submit(client, hire_item, nav="next", full_name="Nia")

    # Employee.annual_salary holds 12 digits, 2 after the point; the field allows 18.
    response = submit(
        client, hire_item, screen=1, email="new@example.com", annual_salary="1" * 11 + ".00"
    )

    assert response.status_code == 200
    assert "no more than 10 digits before the decimal point" in field_errors(
        response, "annual_salary"
    )
    assert 'value="new@example.com"' in response.content.decode()
    assert Employee.objects.count() == 0
    assert_nothing_completed(hire_item)


def test_answers_the_record_can_hold_create_it(login, assignee, hire_item):
    client = login(assignee)
    submit(client, hire_item, nav="next", full_name="N" * 200)

    response = submit(
        client, hire_item, screen=1, email="new@example.com", annual_salary="1" * 10 + ".50"
    )

    assert response.status_code == 302
    employee = Employee.objects.get()
    assert employee.full_name == "N" * 200
    assert str(employee.annual_salary) == "1111111111.50"
