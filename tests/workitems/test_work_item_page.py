"""GET /inbox/<id>/: the instructions, the earlier answers and the screen flow."""

import pytest

from orchestrator.specs import (
    APPROVE,
    REJECT,
    FieldSpec,
    OrchestrationSpec,
    StageSpec,
    StepSpec,
    build,
    decision,
)
from runs import engine
from tests.workitems.items import launch

pytestmark = pytest.mark.django_db


def test_assignee_sees_instructions_and_the_first_screen(login, assignee, personal_item):
    response = login(assignee).get(f"/inbox/{personal_item.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Review expense" in html
    assert "Check the claim for Bo." in html
    # Every input has a label tied to it; help text and required markers are shown.
    assert '<label for="id_title">Title' in html
    assert '<label for="id_amount">Amount' in html
    assert 'aria-describedby="id_title_helptext"' in html
    assert "What was bought" in html
    assert html.count('class="required"') == 2  # title and amount; "spent on" is optional
    assert 'name="_nav" value="next"' in html
    assert 'value="back"' not in html  # the first screen has no Back


def test_outsider_gets_404_for_any_id(login, outsider, personal_item):
    client = login(outsider)

    assert client.get(f"/inbox/{personal_item.pk}/").status_code == 404
    assert client.get("/inbox/999999/").status_code == 404


def test_anonymous_is_sent_to_log_in(client, personal_item):
    response = client.get(f"/inbox/{personal_item.pk}/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_post_is_not_allowed(login, assignee, personal_item):
    assert login(assignee).post(f"/inbox/{personal_item.pk}/").status_code == 405


def test_staff_with_the_permission_sees_but_cannot_fill_in(login, operator, personal_item):
    response = login(operator).get(f"/inbox/{personal_item.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Only Ana can work on this item." in html
    assert 'name="_nav"' not in html
    assert "Reassign" in html


def test_completed_item_says_who_completed_it(login, assignee, personal_item):
    engine.complete_step(
        run_id=personal_item.run_id,
        step_run_id=personal_item.step_run_id,
        outputs={"title": "Taxi", "amount": 12.5, "decision": "approve"},
        user=assignee,
    )

    response = login(assignee).get(f"/inbox/{personal_item.pk}/")

    assert response.status_code == 200
    assert "Already completed by Ana at" in response.content.decode()
    assert 'name="_nav"' not in response.content.decode()


def test_user_text_is_escaped_in_instructions_and_earlier_answers(login, assignee):
    first = StepSpec(
        "first",
        assignee=assignee,
        instructions="For {{ input.name }}",
        fields=[FieldSpec("title", "Title")],
    )
    second = StepSpec("second", assignee=assignee)
    build(
        OrchestrationSpec(
            "escape",
            stages=[StageSpec("first", steps=[first]), StageSpec("second", steps=[second])],
        )
    )
    item = launch("escape", inputs={"name": "<script>alert(1)</script>"})
    engine.complete_step(
        run_id=item.run_id,
        step_run_id=item.step_run_id,
        outputs={"title": "<b>bold</b>"},
        user=assignee,
    )
    second = launch_next(item.run_id)

    first_html = login(assignee).get(f"/inbox/{item.pk}/").content.decode()
    second_html = login(assignee).get(f"/inbox/{second.pk}/").content.decode()

    assert "<script>alert(1)</script>" not in first_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first_html
    assert "<b>bold</b>" not in second_html
    assert "&lt;b&gt;bold&lt;/b&gt;" in second_html


def test_earlier_answers_are_shown_with_their_labels(login, assignee, make_user):
    manager = make_user("mia", first_name="Mia")
    hr_form = StepSpec(
        "hr_form",
        "New hire form",
        assignee=assignee,
        fields=[
            FieldSpec("full_name", "Full name"),
            FieldSpec("manager", "Manager", "user"),
            FieldSpec("salary", "Annual salary", "decimal"),
            FieldSpec("start_date", "Start date", "date"),
            FieldSpec("remote", "Remote", "yes_no"),
            FieldSpec("department", "Department", "choice", choices=[("eng", "Engineering")]),
        ],
    )
    approval = StepSpec(
        "approval",
        "Manager approval",
        assignee="expression:hr_form.manager",
        fields=[decision(APPROVE, REJECT)],
    )
    build(
        OrchestrationSpec(
            "hire",
            stages=[StageSpec("hire", steps=[hr_form]), StageSpec("approval", steps=[approval])],
        )
    )
    item = launch("hire")
    engine.complete_step(
        run_id=item.run_id,
        step_run_id=item.step_run_id,
        outputs={
            "full_name": "Ana Pérez",
            "manager": manager.pk,
            "salary": 85000.0,
            "start_date": "2025-03-03",
            "remote": True,
            "department": "eng",
        },
        user=assignee,
    )
    approval = launch_next(item.run_id)

    html = login(manager).get(f"/inbox/{approval.pk}/").content.decode()

    assert "Earlier answers" in html
    for text in [
        "New hire form",
        "Full name",
        "Ana Pérez",
        "<dd>Mia</dd>",
        "85,000.00",
        "3 Mar 2025",
        "<dd>Yes</dd>",
        "Engineering",
    ]:
        assert text in html
    assert 'name="decision" value="approve"' in html
    assert ">Approve</button>" in html and ">Reject</button>" in html


def test_defaults_come_from_run_data_and_stay_empty_when_they_cannot_be_evaluated(login, assignee):
    form = StepSpec(
        "form",
        assignee=assignee,
        fields=[
            FieldSpec("name", "Name", default="input.name"),
            FieldSpec("missing", "Missing", default="form.nothing_yet"),
            FieldSpec("count", "Count", "integer", default="2 + 3"),
        ],
    )
    build(OrchestrationSpec("defaults", stages=[StageSpec("form", steps=[form])]))
    item = launch("defaults", inputs={"name": "Ana"})

    html = login(assignee).get(f"/inbox/{item.pk}/").content.decode()

    assert 'name="name" value="Ana"' in html
    assert 'name="count" value="5"' in html
    assert 'name="missing" maxlength="1000" required id="id_missing">' in html


def launch_next(run_id):
    from tests.workitems.items import open_item

    return open_item(run_id)
