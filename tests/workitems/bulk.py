"""Many work items fast (bulk inserts, no engine), for query-count tests and EXPLAIN."""

import datetime
import itertools
from typing import Any

from django.utils import timezone

from orchestrator.models import Step
from runs.models import Run, StageRun, StepRun
from workitems.models import WorkItem


def bulk_open_items(
    count: int,
    *,
    step: Step,
    assignees: list[dict[str, Any]],
    status: str = WorkItem.Status.OPEN,
    batch: int = 5000,
) -> int:
    """Create `count` waiting runs of `step`, each with an open work item; the items take
    turns over `assignees` (dicts of WorkItem fields: assignee_user_id, assignee_queue_id,
    assignee_group_id, owner_id). Ages spread over minutes, due dates over ten days."""
    now = timezone.now()
    version = step.version
    turns = itertools.cycle(assignees)
    made = 0
    while made < count:
        size = min(batch, count - made)
        numbers = range(made, made + size)
        runs = Run.objects.bulk_create(
            Run(
                version=version,
                orchestration_id=version.orchestration_id,
                status=Run.Status.RUNNING,
                context={"input": {}},
                title=f"Load test {n}",
                started_at=now - datetime.timedelta(minutes=n),
            )
            for n in numbers
        )
        stage_runs = StageRun.objects.bulk_create(
            StageRun(
                run=run,
                stage_id=step.stage_id,
                status=StageRun.Status.ACTIVE,
                started_at=run.started_at,
            )
            for run in runs
        )
        step_runs = StepRun.objects.bulk_create(
            StepRun(
                run=run,
                stage_run=stage_run,
                step=step,
                status=StepRun.Status.WAITING,
                started_at=run.started_at,
            )
            for run, stage_run in zip(runs, stage_runs, strict=True)
        )
        WorkItem.objects.bulk_create(
            WorkItem(
                step_run=step_run,
                run=run,
                orchestration_id=version.orchestration_id,
                step=step,
                status=status,
                created_at=run.started_at,
                due_at=run.started_at + datetime.timedelta(days=(n % 10) - 3),
                **next(turns),
            )
            for n, run, step_run in zip(numbers, runs, step_runs, strict=True)
        )
        made += size
    return made
