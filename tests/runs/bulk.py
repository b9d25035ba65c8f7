"""Many runs fast (bulk inserts, no engine), for the dashboard's lists, counts and charts."""

from datetime import timedelta

from orchestrator.models import Stage
from runs.models import Run, StageRun


def make_runs(version, count: int, *, started_at, **fields) -> list[Run]:
    """Runs written directly (test data only: production code goes through the engine), one
    minute apart going back from started_at, each with its stage runs (the first active)."""
    title = fields.pop("title", None)
    runs = Run.objects.bulk_create(
        [
            Run(
                version=version,
                orchestration_id=version.orchestration_id,
                started_at=started_at - timedelta(minutes=n),
                title=title or f"Record {n}",
                **fields,
            )
            for n in range(count)
        ]
    )
    stages = list(Stage.objects.filter(version=version).order_by("position"))
    StageRun.objects.bulk_create(
        [
            StageRun(
                run=run,
                stage=stage,
                status="active" if index == 0 and run.status == "running" else "pending",
                started_at=run.started_at if index == 0 else None,
            )
            for run in runs
            for index, stage in enumerate(stages)
        ]
    )
    return runs
