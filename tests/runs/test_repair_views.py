"""Repairing a stopped run from its page: the sentence it stopped with, a form to correct a
step's answers (errors beside their fields, nothing typed lost), and Retry run."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run, RunEvent, StepRun
from tests.runs.engine_helpers import complete, statuses
from tests.runs.hiring import hiring

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def stopped(assignee):
    """A run stopped by its route condition: the optional salary was left empty."""
    hiring(assignee)
    run = engine.launch("hiring", title="Ana's hire")
    step_run = complete(run, "new_hire_form", assignee, name="Ana <b>Lima</b>", salary=None)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    return run, step_run


def correct_url(run, step_run) -> str:
    return reverse("runs:correct_answers", args=[run.pk, step_run.pk])


def test_the_page_of_a_stopped_run_says_why_and_offers_the_repair(client, operator, stopped):
    run, step_run = stopped
    client.force_login(operator)
    html = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert "The run stopped" in html
    assert (
        "could not be evaluated: it compares or combines an empty answer with a number. "
        "Correct the answers of &quot;New hire form&quot; below, then retry." in html
    )
    assert reverse("runs:retry", args=[run.pk]) in html
    assert correct_url(run, step_run) in html
    # The form opens with the answers given, escaped once.
    assert 'value="Ana &lt;b&gt;Lima&lt;/b&gt;"' in html
    assert "Correct the answers of New hire form…" in html


def test_correcting_through_the_page_records_it_and_retry_takes_the_run_on(
    client, operator, stopped
):
    run, step_run = stopped
    client.force_login(operator)
    prefix = f"answers-{step_run.pk}-"
    response = client.post(
        correct_url(run, step_run),
        {f"{prefix}name": "Ana Lima", f"{prefix}salary": "85000", "reason": "Salary was missing"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("runs:detail", args=[run.pk])
    assert messages_of(response) == [
        'The answers of "New hire form" were corrected. Retry to go on.'
    ]
    event = RunEvent.objects.get(run=run, kind="step.answers_corrected")
    assert event.data["before"] == {"name": "Ana <b>Lima</b>", "salary": None}
    assert event.data["after"] == {"name": "Ana Lima", "salary": 85000.0}
    assert event.actor == operator

    response = client.post(
        reverse("runs:retry", args=[run.pk]), {"reason": "answers corrected"}, follow=True
    )
    assert messages_of(response) == ["The run is being retried."]
    assert statuses(run)["welcome_pack"] == "waiting"
    # The repeat is answered with the engine's sentence, and changes nothing.
    response = client.post(reverse("runs:retry", args=[run.pk]), {"reason": "again"}, follow=True)
    assert messages_of(response) == ["This run is running: there is nothing to retry."]
    assert RunEvent.objects.filter(run=run, kind="run.retried").count() == 1


def test_invalid_answers_come_back_with_their_errors_and_nothing_typed_is_lost(
    client, operator, stopped
):
    run, step_run = stopped
    client.force_login(operator)
    prefix = f"answers-{step_run.pk}-"
    response = client.post(
        correct_url(run, step_run),
        {f"{prefix}name": "Ana Lima", f"{prefix}salary": "a lot", "reason": "Salary typo"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a number." in html
    assert 'value="a lot"' in html
    assert 'value="Ana Lima"' in html
    assert "Salary typo</textarea>" in html
    assert f'id="correct-{step_run.pk}" open' in html
    step_run.refresh_from_db()
    assert step_run.outputs["salary"] is None
    assert not RunEvent.objects.filter(run=run, kind="step.answers_corrected").exists()


def test_a_correction_without_a_reason_asks_for_one_and_keeps_the_answers(
    client, operator, stopped
):
    run, step_run = stopped
    client.force_login(operator)
    prefix = f"answers-{step_run.pk}-"
    response = client.post(
        correct_url(run, step_run), {f"{prefix}name": "Ana", f"{prefix}salary": "85000"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Say why, so that others can follow the run&#x27;s history." in html
    assert 'value="85000"' in html
    assert not RunEvent.objects.filter(run=run, kind="step.answers_corrected").exists()


def test_correcting_a_running_run_is_answered_with_a_sentence(client, operator, assignee):
    build(
        OrchestrationSpec(
            "two",
            stages=[
                StageSpec(
                    "only",
                    steps=[
                        StepSpec("first", assignee=assignee, fields=[FieldSpec("name")]),
                        StepSpec("second", assignee=assignee, depends_on=["first"]),
                    ],
                )
            ],
        )
    )
    run = engine.launch("two")
    step_run = complete(run, "first", assignee, name="Ana")
    client.force_login(operator)
    response = client.post(
        correct_url(run, step_run),
        {f"answers-{step_run.pk}-name": "Bo", "reason": "typo"},
        follow=True,
    )
    assert messages_of(response) == [
        "Answers can only be corrected while the run is stopped by an error; this run is running."
    ]
    html = response.content.decode()
    assert correct_url(run, step_run) not in html
    assert reverse("runs:retry", args=[run.pk]) not in html


@pytest.mark.parametrize("name", ["retry", "correct_answers"])
def test_the_repair_is_404_for_anyone_who_may_not_retry(client, make_user, stopped, name):
    run, step_run = stopped
    viewer = make_user("viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="runs").exclude(codename="retry_step")
    )
    args = [run.pk] if name == "retry" else [run.pk, step_run.pk]
    url = reverse(f"runs:{name}", args=args)
    data = {f"answers-{step_run.pk}-name": "Bo", "reason": "x"}
    for user in (viewer, make_user("outsider")):
        client.force_login(user)
        assert client.post(url, data).status_code == 404
    # Nor does the page offer it.
    client.force_login(viewer)
    html = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert url not in html
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert StepRun.objects.get(pk=step_run.pk).outputs["name"] == "Ana <b>Lima</b>"


@pytest.mark.parametrize("name", ["retry", "correct_answers"])
def test_the_repair_answers_405_to_get(client, operator, stopped, name):
    run, step_run = stopped
    client.force_login(operator)
    args = [run.pk] if name == "retry" else [run.pk, step_run.pk]
    assert client.get(reverse(f"runs:{name}", args=args)).status_code == 405


def test_a_step_run_of_another_run_is_404(client, operator, stopped, assignee):
    run, _ = stopped
    other = engine.launch("hiring")
    client.force_login(operator)
    url = correct_url(run, other.step_runs.first())
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_every_stopped_run_whose_sentence_promises_a_retry_shows_a_retry_button(
    client, operator, stopped, tmp_path
):
    """The person who completed a step reads "an operator can retry it from the run page":
    whatever stopped the run (a condition here, a failed background step there), the run
    page has that button."""
    from tests.runs.engine_helpers import run_failed_step
    from tests.runs.flows import background_flow
    from workitems.queries import what_happens_next

    by_condition, _ = stopped
    flag = tmp_path / "ledger-down"
    flag.touch()
    build(background_flow(flag=flag))
    by_step = engine.launch("ledger")
    failed_step = run_failed_step(by_step)
    client.force_login(operator)
    for run, retry_url in (
        (by_condition, reverse("runs:retry", args=[by_condition.pk])),
        (by_step, reverse("runs:retry_step", args=[by_step.pk, failed_step.pk])),
    ):
        assert "an operator can retry it from the run page" in what_happens_next(run.pk)
        html = client.get(reverse("runs:detail", args=[run.pk])).content.decode()
        assert f'action="{retry_url}"' in html
