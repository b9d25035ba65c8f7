"""Drive runs in tests through the same engine functions the web views and workers call."""

from runs import engine
from runs.models import Run, StepRun


def waiting(run: Run, key: str) -> StepRun:
    return StepRun.objects.get(run=run, step__key=key, status=StepRun.Status.WAITING)


def complete(run: Run, key: str, user, **outputs) -> StepRun:
    step_run = waiting(run, key)
    return engine.complete_step(run_id=run.pk, step_run_id=step_run.pk, outputs=outputs, user=user)


def work_background(run: Run) -> int:
    """Execute every queued attempt of the run, as a worker would (without the broker)."""
    done = 0
    while True:
        queued = list(StepRun.objects.filter(run=run, status=StepRun.Status.QUEUED))
        if not queued:
            return done
        for step_run in queued:
            engine.execute_attempt(
                run_id=run.pk, step_run_id=step_run.pk, attempt=step_run.attempts + 1
            )
            done += 1


def statuses(run: Run) -> dict[str, str]:
    """The latest step run status of each step, by step key."""
    result = {}
    for step_run in StepRun.objects.filter(run=run).select_related("step").order_by("id"):
        result[step_run.step.key] = step_run.status
    return result


def run_failed_step(run: Run) -> StepRun:
    """Work the run's queued background attempts as a worker would; return the failed one."""
    work_background(run)
    return StepRun.objects.get(run=run, status=StepRun.Status.FAILED)
