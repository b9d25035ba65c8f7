"""Celery tasks: each takes ids, calls the engine, and is a no-op when redelivered."""

from celery import shared_task

from runs import engine, sweeper


@shared_task(name="runs.tasks.execute_step", acks_late=True, ignore_result=True)
def execute_step(run_id: int, step_run_id: int, attempt: int) -> None:
    engine.execute_attempt(run_id=run_id, step_run_id=step_run_id, attempt=attempt)


@shared_task(name="runs.tasks.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return sweeper.sweep()
