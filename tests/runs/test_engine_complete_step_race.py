"""Two people complete the same work item at the same moment: exactly one wins."""

import threading

import pytest
from django.db import connection

from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.models import RunEvent, StepRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_threads_completing_one_step_one_wins_the_other_is_told_who(group, make_user):
    # Without the run lock both threads read "waiting" and both completed the step, so the
    # next stage started twice. The lock serialises them; the loser re-reads and is told.
    second = make_user("gwen", first_name="Gwen")
    second.groups.add(group)
    first = group.user_set.exclude(pk=second.pk).get()
    assign_desk = StepSpec("assign_desk", assignee=group, fields=[FieldSpec("note")])
    build(
        OrchestrationSpec(
            "desk",
            stages=[
                StageSpec("one", steps=[assign_desk]),
                StageSpec("two", steps=[StepSpec("after", assignee=group)]),
            ],
        )
    )
    run = engine.launch("desk")
    step_run = StepRun.objects.get(run=run, step__key="assign_desk")
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def complete(user):
        try:
            barrier.wait(timeout=10)
            engine.complete_step(
                run_id=run.pk, step_run_id=step_run.pk, outputs={"note": user.username}, user=user
            )
            results[user.username] = "ok"
        except engine.EngineError as exc:
            results[user.username] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(user,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "deadlock"

    winners = [name for name, result in results.items() if result == "ok"]
    losers = [result for result in results.values() if result != "ok"]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], engine.StepNotWaiting)
    winner_name = {"gus": "Gus", "gwen": "Gwen"}[winners[0]]
    assert str(losers[0]).startswith(f"Already completed by {winner_name} at ")
    step_run.refresh_from_db()
    assert step_run.outputs == {"note": winners[0]}
    assert RunEvent.objects.filter(run=run, kind="step.completed").count() == 1
    assert RunEvent.objects.filter(run=run, kind="stage.started").count() == 2
