"""Small orchestrations for the dashboard tests, built with tests.definitions.build and run
through the engine (runs.engine.launch)."""

from pathlib import Path

from runs import engine
from runs.models import Run, StepRun
from tests.definitions import build


def background_flow(key: str = "ledger", *, flag: Path | None = None, max_retries: int = 0):
    """One stage with one background step: `log`, or `test_fail_while` the flag file exists
    (so that it fails until an operator "fixes the cause" by removing the file)."""
    if flag is None:
        step = {"key": "post_ledger", "label": "Post to ledger", "kind": "background"}
    else:
        step = {
            "key": "post_ledger",
            "label": "Post to ledger",
            "kind": "background",
            "action": "test_fail_while",
            "params": {"flag": str(flag)},
        }
    step["max_retries"] = max_retries
    return build(key, [{"key": "book", "label": "Bookkeeping", "steps": [step]}])


def review_flow(key: str = "review", *, reviewer, starter_step: bool = False):
    """Two stages: a person reviews (a decision and a comment), then a background `log`."""
    return build(
        key,
        [
            {
                "key": "review",
                "label": "Review",
                "steps": [
                    {
                        "key": "approval",
                        "label": "Manager approval",
                        "user": reviewer,
                        "fields": [
                            {
                                "key": "decision",
                                "label": "Decision",
                                "type": "decision",
                                "choices": [
                                    {"value": "approve", "label": "Approve"},
                                    {"value": "reject", "label": "Reject"},
                                ],
                            },
                            {
                                "key": "comment",
                                "label": "Comment",
                                "type": "long_text",
                                "required": False,
                            },
                        ],
                    }
                ],
            },
            {
                "key": "notify",
                "label": "Notify",
                "steps": [{"key": "announce", "label": "Announce", "kind": "background"}],
            },
        ],
    )


def run_failed_step(run: Run) -> StepRun:
    """Work the run's queued background attempts as a worker would; return the failed one."""
    work(run)
    return StepRun.objects.get(run=run, status=StepRun.Status.FAILED)


def work(run: Run) -> None:
    """Execute every queued attempt of the run (the worker's part, without the broker)."""
    while True:
        queued = list(StepRun.objects.filter(run=run, status=StepRun.Status.QUEUED))
        if not queued:
            return
        for step_run in queued:
            engine.execute_attempt(
                run_id=run.pk, step_run_id=step_run.pk, attempt=step_run.attempts + 1
            )


def make_runs(version, count: int, *, started_at, **fields) -> list[Run]:
    """Runs written directly (test data only: production code goes through the engine), one
    minute apart going back from started_at, each with its stage runs (the first active)."""
    from datetime import timedelta

    from orchestrator.models import Stage
    from runs.models import StageRun

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
