"""Repairing a run that stopped on its own data: the sentence it stops with says what happened
and what to do; an operator corrects a completed step's answers (validated like the work
item's form, before and after kept in the event log), then retries the run or the step."""

import pytest
from django.http import QueryDict

from orchestrator.specs import FieldSpec, OrchestrationSpec, RouteSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import Run, RunEvent, StageRun, StepRun
from tests.runs.engine_helpers import complete, statuses, waiting
from tests.runs.hiring import ROUTE_FAILED, SALARY, hiring

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_sql")]


def values(step_run: StepRun, **answers) -> QueryDict:
    """The correction form as posted (its fields are prefixed by the step run)."""
    data = QueryDict(mutable=True)
    for key, value in answers.items():
        data[f"answers-{step_run.pk}-{key}"] = value
    return data


@pytest.fixture
def stopped(assignee):
    """A run stopped by its route condition: the salary was left empty."""
    hiring(assignee)
    run = engine.launch("hiring")
    form = complete(run, "new_hire_form", assignee, name="Ana", salary=None)
    run.refresh_from_db()
    return run, form


def test_a_route_condition_on_a_bad_answer_stops_the_run_saying_what_to_do(stopped):
    run, _ = stopped
    assert run.status == Run.Status.FAILED
    assert RunEvent.objects.get(run=run, kind="run.failed").data["error"] == ROUTE_FAILED
    # The stage did not complete: a retry of the run comes back to its routes.
    assert StageRun.objects.get(run=run, stage__key="hire").status == StageRun.Status.FAILED
    assert not RunEvent.objects.filter(run=run, kind="stage.completed").exists()


def test_corrected_answers_are_kept_with_before_and_after_and_the_retry_completes_the_run(
    stopped, operator, assignee
):
    run, form = stopped
    engine.correct_answers(
        step_run_id=form.pk,
        values=values(form, name="Ana", salary="150000"),
        user=operator,
        reason="HR forgot the salary",
    )
    form.refresh_from_db()
    assert form.outputs == {"name": "Ana", "salary": 150000.0}
    event = RunEvent.objects.get(run=run, kind="step.answers_corrected")
    assert (event.actor, event.step_run_id) == (operator, form.pk)
    assert event.data == {
        "reason": "HR forgot the salary",
        "before": {"salary": None},
        "after": {"salary": 150000.0},
    }
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED  # until someone retries it

    engine.retry_run(run_id=run.pk, user=operator, reason="salary corrected")
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING
    assert statuses(run)["board_approval"] == "waiting"  # the route was evaluated again
    retried = RunEvent.objects.get(run=run, kind="run.retried")
    assert (retried.actor, retried.data["reason"]) == (operator, "salary corrected")
    complete(run, "board_approval", assignee)
    run.refresh_from_db()
    assert (run.status, run.outcome) == (Run.Status.COMPLETED, "completed")
    hire = StageRun.objects.get(run=run, stage__key="hire")
    assert hire.status == StageRun.Status.COMPLETED


def test_corrected_answers_are_validated_like_the_work_item_form(stopped, operator):
    run, form = stopped
    with pytest.raises(engine.AnswersInvalid) as refused:
        engine.correct_answers(
            step_run_id=form.pk,
            values=values(form, name="", salary="a lot"),
            user=operator,
            reason="typo",
        )
    assert refused.value.form.errors == {
        "name": ["This field is required."],
        "salary": ["Enter a number."],
    }
    # What was typed comes back with the errors.
    assert refused.value.form["salary"].value() == "a lot"
    form.refresh_from_db()
    assert form.outputs == {"name": "Ana", "salary": None}
    assert not RunEvent.objects.filter(run=run, kind="step.answers_corrected").exists()


def test_the_same_answers_again_are_refused_plainly(stopped, operator):
    _, form = stopped
    with pytest.raises(engine.AnswersNotCorrectable, match="nothing was changed"):
        engine.correct_answers(
            step_run_id=form.pk, values=values(form, name="Ana"), user=operator, reason="x"
        )


def test_answers_of_a_running_or_finished_run_cannot_be_corrected(assignee, operator):
    hiring(assignee)
    run = engine.launch("hiring")
    form = complete(run, "new_hire_form", assignee, name="Ana", salary=5000)
    with pytest.raises(engine.AnswersNotCorrectable) as refused:
        engine.correct_answers(
            step_run_id=form.pk, values=values(form, name="Bo", salary="1"), user=operator
        )
    assert str(refused.value) == (
        "Answers can only be corrected while the run is stopped by an error; this run is running."
    )
    complete(run, "welcome_pack", assignee)
    with pytest.raises(engine.AnswersNotCorrectable, match="this run is completed"):
        engine.correct_answers(
            step_run_id=form.pk, values=values(form, name="Bo", salary="1"), user=operator
        )
    form.refresh_from_db()
    assert form.outputs == {"name": "Ana", "salary": 5000}


def test_a_running_or_finished_run_cannot_be_retried(assignee, operator):
    hiring(assignee)
    run = engine.launch("hiring")
    with pytest.raises(engine.RunNotRetryable, match="This run is running: there is nothing"):
        engine.retry_run(run_id=run.pk, user=operator)
    engine.cancel_run(run_id=run.pk, user=operator, reason="wrong person")
    with pytest.raises(engine.RunNotActive, match="already cancelled"):
        engine.retry_run(run_id=run.pk, user=operator)
    assert not RunEvent.objects.filter(run=run, kind="run.retried").exists()


def test_a_run_stopped_by_a_failed_step_is_retried_through_the_step(assignee, operator):
    form = StepSpec("form", assignee=assignee, fields=[FieldSpec("manager")])
    approve = StepSpec("approve", "Approve", assignee="expression:form.manager")
    build(
        OrchestrationSpec(
            "bad-assignee",
            stages=[StageSpec("form", steps=[form]), StageSpec("approve", steps=[approve])],
        )
    )
    run = engine.launch("bad-assignee")
    answered = complete(run, "form", assignee, manager="nobody-here")
    failed = StepRun.objects.get(run=run, step__key="approve")
    assert failed.error == (
        "The assignee of step \"Approve\" (form.manager = 'nobody-here') is not an active "
        'user. Correct the answers of "Form" below, then retry.'
    )
    with pytest.raises(engine.RunNotRetryable, match='The step "Approve" failed: retry or skip'):
        engine.retry_run(run_id=run.pk, user=operator)

    engine.correct_answers(
        step_run_id=answered.pk, values=values(answered, manager="ana"), user=operator
    )
    engine.retry_step(step_run_id=failed.pk, user=operator, reason="manager corrected")
    from workitems.models import WorkItem

    assert WorkItem.objects.get(step_run=failed).assignee_user == assignee


def test_a_step_entry_condition_on_a_bad_answer_fails_the_step_and_its_retry_starts_it(
    assignee, operator
):
    form = StepSpec("form", assignee=assignee, fields=[SALARY])
    check = StepSpec("check", "Payroll check", assignee=assignee, entry_condition="form.salary > 0")
    build(
        OrchestrationSpec(
            "step-entry",
            stages=[StageSpec("form", steps=[form]), StageSpec("check", steps=[check])],
        )
    )
    run = engine.launch("step-entry")
    answered = complete(run, "form", assignee, salary=None)
    failed = StepRun.objects.get(run=run, step__key="check")
    assert failed.status == StepRun.Status.FAILED
    assert failed.error == (
        'The entry condition of step "Payroll check" (form.salary > 0) could not be '
        "evaluated: it compares or combines an empty answer with a number. Correct the "
        'answers of "Form" below, then retry.'
    )
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED

    engine.correct_answers(
        step_run_id=answered.pk, values=values(answered, salary="4000"), user=operator
    )
    engine.retry_step(step_run_id=failed.pk, user=operator)
    assert statuses(run)["check"] == "waiting"
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING


def test_a_stage_entry_condition_that_cannot_be_evaluated_is_evaluated_again_on_retry(
    assignee, operator
):
    form = StepSpec("form", assignee=assignee, fields=[SALARY])
    build(
        OrchestrationSpec(
            "stage-entry",
            stages=[
                StageSpec("form", steps=[form]),
                StageSpec(
                    "board",
                    "Board",
                    entry_condition="form.salary > 100000",
                    steps=[StepSpec("board_approval", assignee=assignee)],
                ),
                StageSpec("welcome", steps=[StepSpec("welcome_pack", assignee=assignee)]),
            ],
        )
    )
    run = engine.launch("stage-entry")
    answered = complete(run, "form", assignee, salary=None)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert (
        RunEvent.objects.get(run=run, kind="run.failed")
        .data["error"]
        .startswith(
            'The entry condition of stage "Board" (form.salary > 100000) could not be evaluated'
        )
    )
    board = StageRun.objects.get(run=run, stage__key="board")
    assert (board.status, board.started_at) == (StageRun.Status.FAILED, None)

    engine.correct_answers(
        step_run_id=answered.pk, values=values(answered, salary="90000"), user=operator
    )
    engine.retry_run(run_id=run.pk, user=operator)
    assert statuses(run) == {
        "form": "completed",
        "board_approval": "skipped",
        "welcome_pack": "waiting",
    }
    board.refresh_from_db()
    assert board.status == StageRun.Status.SKIPPED


def test_an_exit_condition_that_cannot_be_evaluated_is_evaluated_again_on_retry(assignee, operator):
    hiring(assignee, exit_condition="new_hire_form.salary > 0")
    run = engine.launch("hiring")
    answered = complete(run, "new_hire_form", assignee, name="Ana", salary=None)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert (
        'The exit condition of stage "Hire"'
        in (RunEvent.objects.get(run=run, kind="run.failed").data["error"])
    )
    engine.correct_answers(
        step_run_id=answered.pk, values=values(answered, name="Ana", salary="5000"), user=operator
    )
    engine.retry_run(run_id=run.pk, user=operator)
    assert waiting(run, "welcome_pack")


def test_a_condition_that_reads_no_correctable_answer_says_to_cancel(assignee, operator):
    build(
        OrchestrationSpec(
            "inputs",
            stages=[
                StageSpec(
                    "only",
                    "Only",
                    steps=[StepSpec("form", assignee=assignee)],
                    routes=[RouteSpec("input.amount > 10", end="big")],
                )
            ],
        )
    )
    run = engine.launch("inputs", inputs={"amount": "a lot"})
    complete(run, "form", assignee)
    assert RunEvent.objects.get(run=run, kind="run.failed").data["error"] == (
        'The route condition of stage "Only" (input.amount > 10) could not be evaluated: it '
        "compares or combines a text with a number. It reads no answers that can be corrected "
        "here: cancel the run."
    )
