"""The small orchestrations the run tests share, as specs for `orchestrator.specs.build`."""

from pathlib import Path

from orchestrator.specs import (
    APPROVE,
    COMMENT,
    REJECT,
    OrchestrationSpec,
    StageSpec,
    StepSpec,
    decision,
)


def background_flow(
    key: str = "ledger", *, flag: Path | None = None, max_retries: int = 0
) -> OrchestrationSpec:
    """One stage with one background step: `log`, or `test_fail_while` the flag file exists
    (so that it fails until an operator "fixes the cause" by removing the file)."""
    if flag is None:
        action, parameters = "log", {"message": "hello"}
    else:
        action, parameters = "test_fail_while", {"flag": str(flag)}
    post_ledger = StepSpec(
        "post_ledger",
        "Post to ledger",
        action=action,
        parameters=parameters,
        max_retries=max_retries,
        retry_backoff=0.01,
    )
    return OrchestrationSpec(key, stages=[StageSpec("book", "Bookkeeping", steps=[post_ledger])])


def review_flow(key: str = "review", *, reviewer) -> OrchestrationSpec:
    """Two stages: a person reviews (a decision and a comment), then a background `log`."""
    approval = StepSpec(
        "approval",
        "Manager approval",
        assignee=reviewer,
        fields=[decision(APPROVE, REJECT), COMMENT],
    )
    announce = StepSpec("announce", action="log", parameters={"message": "hello"})
    return OrchestrationSpec(
        key,
        stages=[
            StageSpec("review", "Review", steps=[approval]),
            StageSpec("notify", "Notify", steps=[announce]),
        ],
    )
