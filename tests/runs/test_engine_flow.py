"""The engine's semantics: stages in order, dependencies, conditions, routes, rework."""

import pytest

from orchestrator.specs import (
    FieldSpec,
    OrchestrationSpec,
    RouteSpec,
    StageSpec,
    StepSpec,
    build,
)
from runs import engine
from runs.models import Run, RunEvent, StageRun, StepRun
from tests.runs.engine_helpers import complete, statuses, work_background

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_sql")]


def test_steps_start_when_their_dependencies_are_done(assignee):
    steps = [
        StepSpec("first", assignee=assignee),
        StepSpec("second", assignee=assignee, depends_on=["first"]),
        StepSpec("free", assignee=assignee),
    ]
    build(OrchestrationSpec("deps", stages=[StageSpec("only", steps=steps)]))
    run = engine.launch("deps")
    assert statuses(run) == {"first": "waiting", "second": "pending", "free": "waiting"}
    complete(run, "first", assignee)
    assert statuses(run)["second"] == "waiting"
    complete(run, "second", assignee)
    complete(run, "free", assignee)
    run.refresh_from_db()
    assert (run.status, run.outcome) == ("completed", "completed")
    assert run.finished_at is not None


def test_false_entry_condition_skips_the_step_and_its_dependents_start(assignee):
    form = StepSpec("form", assignee=assignee, fields=[FieldSpec("n", type="integer")])
    two = [
        StepSpec("big_only", assignee=assignee, entry_condition="form.n > 10"),
        StepSpec("after", assignee=assignee, depends_on=["big_only"]),
    ]
    build(
        OrchestrationSpec(
            "skip", stages=[StageSpec("form", steps=[form]), StageSpec("two", steps=two)]
        )
    )
    run = engine.launch("skip")
    complete(run, "form", assignee, n=3)
    assert statuses(run) == {"form": "completed", "big_only": "skipped", "after": "waiting"}


def test_false_stage_entry_condition_skips_the_stage(assignee):
    build(
        OrchestrationSpec(
            "stage-skip",
            stages=[
                StageSpec("form", steps=[StepSpec("form", assignee=assignee)]),
                StageSpec(
                    "compliance",
                    entry_condition="input.amount > 50000",
                    steps=[StepSpec("review", assignee=assignee)],
                ),
                StageSpec("funding", steps=[StepSpec("fund", assignee=assignee)]),
            ],
        )
    )
    run = engine.launch("stage-skip", inputs={"amount": 1000})
    complete(run, "form", assignee)
    assert statuses(run) == {"form": "completed", "review": "skipped", "fund": "waiting"}
    skipped = StageRun.objects.get(run=run, stage__key="compliance")
    assert skipped.status == "skipped"
    assert RunEvent.objects.filter(run=run, kind="stage.skipped").count() == 1


def test_exit_condition_ends_the_stage_early_and_cancels_open_steps(assignee):
    vote = [
        StepSpec("first", assignee=assignee, fields=[FieldSpec("ok", type="yes_no")]),
        StepSpec("second", assignee=assignee),
    ]
    build(
        OrchestrationSpec(
            "exit",
            stages=[
                StageSpec("vote", exit_condition="first.ok == true", steps=vote),
                StageSpec("next", steps=[StepSpec("next_step", assignee=assignee)]),
            ],
        )
    )
    run = engine.launch("exit")
    complete(run, "first", assignee, ok=True)
    assert statuses(run) == {"first": "completed", "second": "cancelled", "next_step": "waiting"}
    from workitems.models import WorkItem

    assert WorkItem.objects.get(run=run, step__key="second").status == "cancelled"


def test_route_ends_the_run_with_an_outcome(assignee):
    review = StepSpec("review", assignee=assignee, fields=[FieldSpec("decision")])
    build(
        OrchestrationSpec(
            "route-end",
            stages=[
                StageSpec(
                    "review",
                    steps=[review],
                    routes=[RouteSpec('review.decision == "reject"', end="rejected")],
                ),
                StageSpec("fund", steps=[StepSpec("fund", assignee=assignee)]),
            ],
        )
    )
    run = engine.launch("route-end")
    complete(run, "review", assignee, decision="reject")
    run.refresh_from_db()
    assert (run.status, run.outcome) == ("completed", "rejected")
    assert statuses(run)["fund"] == "skipped"


def test_rework_goes_back_with_a_new_iteration_and_respects_the_bound(assignee):
    review = StepSpec("review", assignee=assignee, fields=[FieldSpec("decision")])
    build(
        OrchestrationSpec(
            "rework",
            stages=[
                StageSpec("apply", steps=[StepSpec("apply", assignee=assignee)]),
                StageSpec(
                    "review",
                    steps=[review],
                    routes=[
                        RouteSpec('review.decision == "more"', go_to="apply", max_repeats=2),
                        RouteSpec('review.decision == "more"', end="gave up"),
                    ],
                ),
            ],
        )
    )
    run = engine.launch("rework")
    complete(run, "apply", assignee)
    for _ in range(2):
        complete(run, "review", assignee, decision="more")
        complete(run, "apply", assignee)
    complete(run, "review", assignee, decision="more")
    run.refresh_from_db()
    assert (run.status, run.outcome) == ("completed", "gave up")
    iterations = list(
        StageRun.objects.filter(run=run, stage__key="apply").values_list("iteration", flat=True)
    )
    assert iterations == [1, 2, 3]
    assert RunEvent.objects.filter(run=run, kind="route.limit_reached").count() == 1


def test_assignee_expression_reads_earlier_answers(assignee, make_user):
    boss = make_user("boss")
    form = StepSpec("form", assignee=assignee, fields=[FieldSpec("manager", type="user")])
    approve = StepSpec("approve", assignee="expression:form.manager")
    build(
        OrchestrationSpec(
            "expr", stages=[StageSpec("form", steps=[form]), StageSpec("approve", steps=[approve])]
        )
    )
    run = engine.launch("expr")
    complete(run, "form", assignee, manager=boss.pk)
    from workitems.models import WorkItem

    item = WorkItem.objects.get(run=run, step__key="approve")
    assert item.assignee_user == boss


def test_unresolvable_assignee_fails_the_run_with_a_sentence(assignee):
    form = StepSpec("form", assignee=assignee, fields=[FieldSpec("manager")])
    approve = StepSpec("approve", assignee="expression:form.manager")
    build(
        OrchestrationSpec(
            "bad-assignee",
            stages=[StageSpec("form", steps=[form]), StageSpec("approve", steps=[approve])],
        )
    )
    run = engine.launch("bad-assignee")
    complete(run, "form", assignee, manager="nobody-here")
    run.refresh_from_db()
    assert run.status == "failed"
    failed = StepRun.objects.get(run=run, step__key="approve")
    assert failed.status == "failed"
    assert "is not an active user" in failed.error


def test_background_step_outputs_feed_later_templates(assignee):
    steps = [
        StepSpec("first", action="log", parameters={"message": "=string(input.n * 2)"}),
        StepSpec(
            "second",
            action="log",
            parameters={"message": "got {{ first.message }}"},
            depends_on=["first"],
        ),
    ]
    build(OrchestrationSpec("bg", stages=[StageSpec("only", steps=steps)]))
    run = engine.launch("bg", inputs={"n": 21})
    assert work_background(run) == 2
    outputs = dict(StepRun.objects.filter(run=run).values_list("step__key", "outputs"))
    assert outputs == {"first": {"message": "42"}, "second": {"message": "got 42"}}
    run.refresh_from_db()
    assert run.status == "completed"


def test_a_redelivered_attempt_is_a_no_op(assignee):
    first = StepSpec("first", action="log", parameters={"message": "hello"})
    build(OrchestrationSpec("dup", stages=[StageSpec("only", steps=[first])]))
    run = engine.launch("dup")
    step_run = StepRun.objects.get(run=run)
    engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=1)
    engine.execute_attempt(run_id=run.pk, step_run_id=step_run.pk, attempt=1)
    assert RunEvent.objects.filter(run=run, kind="step.completed").count() == 1
    step_run.refresh_from_db()
    assert step_run.attempts == 1


def test_operator_skip_and_cancel_are_recorded(assignee, operator):
    build(
        OrchestrationSpec(
            "ops",
            stages=[
                StageSpec("one", steps=[StepSpec("first", assignee=assignee)]),
                StageSpec("two", steps=[StepSpec("second", assignee=assignee)]),
            ],
        )
    )
    run = engine.launch("ops")
    first = StepRun.objects.get(run=run, step__key="first")
    engine.skip_step(step_run_id=first.pk, user=operator, reason="Done by phone")
    assert statuses(run) == {"first": "skipped", "second": "waiting"}
    event = RunEvent.objects.get(run=run, kind="step.skipped")
    assert (event.actor, event.data["reason"]) == (operator, "Done by phone")
    engine.cancel_run(run_id=run.pk, user=operator, reason="Hire withdrew")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert statuses(run)["second"] == "cancelled"
    from workitems.models import WorkItem

    assert set(WorkItem.objects.filter(run=run).values_list("status", flat=True)) == {"cancelled"}
    with pytest.raises(engine.RunNotActive, match="already cancelled"):
        engine.cancel_run(run_id=run.pk, user=operator, reason="again")


def test_completing_a_step_of_a_cancelled_run_is_refused(assignee, operator):
    first = StepSpec("first", assignee=assignee)
    build(OrchestrationSpec("cancelled", stages=[StageSpec("one", steps=[first])]))
    run = engine.launch("cancelled")
    step_run = StepRun.objects.get(run=run)
    engine.cancel_run(run_id=run.pk, user=operator, reason="no longer needed")
    with pytest.raises(engine.StepNotWaiting, match="This step was cancelled"):
        engine.complete_step(run_id=run.pk, step_run_id=step_run.pk, outputs={}, user=assignee)


def test_wait_action_is_fired_by_the_sweeper_timer(time_machine):
    from django.utils import timezone

    from runs import sweeper

    time_machine.move_to(timezone.now(), tick=True)
    pause = StepSpec("pause", action="wait", parameters={"duration": 3600})
    build(OrchestrationSpec("wait", stages=[StageSpec("one", steps=[pause])]))
    run = engine.launch("wait")
    work_background(run)
    assert statuses(run) == {"pause": "waiting"}
    assert sweeper.fire_due_timers() == 0
    time_machine.shift(3601)
    assert sweeper.fire_due_timers() == 1
    run.refresh_from_db()
    assert run.status == "completed"


def test_child_run_outcome_completes_the_waiting_parent_step(
    assignee, django_capture_on_commit_callbacks
):
    child_step = StepSpec("child_step", assignee=assignee)
    build(OrchestrationSpec("child", stages=[StageSpec("one", steps=[child_step])]))
    spawn = StepSpec(
        "spawn", action="launch_orchestration", parameters={"orchestration": "child", "wait": True}
    )
    build(OrchestrationSpec("parent", stages=[StageSpec("one", steps=[spawn])]))
    parent = engine.launch("parent")
    work_background(parent)
    assert statuses(parent) == {"spawn": "waiting"}
    child = Run.objects.get(parent_step_run__run=parent)
    with django_capture_on_commit_callbacks(execute=True):
        complete(child, "child_step", assignee)
    parent.refresh_from_db()
    assert parent.status == "completed"
    spawn = StepRun.objects.get(run=parent)
    assert spawn.outputs == {"run_id": child.pk, "outcome": "completed"}


def test_launching_an_unknown_orchestration_says_so():
    with pytest.raises(engine.OrchestrationNotFound, match='There is no orchestration "nope"'):
        engine.launch("nope")


def test_completion_by_someone_no_longer_assigned_is_refused_and_changes_nothing(
    queue, queue_member, make_user
):
    from workitems.models import WorkItem

    other = make_user("otis")
    queue.members.add(other)
    laptop = StepSpec("laptop", assignee=queue)
    build(OrchestrationSpec("queued", stages=[StageSpec("one", steps=[laptop])]))
    run = engine.launch("queued")
    item = WorkItem.objects.get(run=run)
    WorkItem.objects.filter(pk=item.pk).update(owner=other)  # claimed by someone else
    with pytest.raises(engine.CompletionRefused, match="no longer yours"):
        engine.complete_step(
            run_id=run.pk, step_run_id=item.step_run_id, outputs={}, user=queue_member
        )
    assert statuses(run) == {"laptop": "waiting"}
    assert WorkItem.objects.get(pk=item.pk).status == "open"
