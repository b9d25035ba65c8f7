"""The valid orchestration the definition tests start from, and break one piece at a time."""

from orchestrator.specs import (
    FieldSpec,
    OrchestrationSpec,
    RouteSpec,
    ScreenSpec,
    StageSpec,
    StepSpec,
)


def request_and_review(key: str = "onboarding", name: str = "Onboarding") -> OrchestrationSpec:
    """Two stages: a form filled by the starter, then a review with two ordered steps, a
    decision, and routes (rework back to the form, or end as rejected)."""
    request_form = StepSpec(
        "request_form",
        assignee="starter",
        screens=[ScreenSpec("Details", [FieldSpec("amount", type="integer")])],
    )
    check = StepSpec("check", action="log", parameters={"message": "Hello {{ input.name }}"})
    decide = StepSpec(
        "decide",
        assignee="starter",
        instructions="Amount: {{ request_form.amount }}",
        screens=[
            ScreenSpec(
                "Details", [FieldSpec("decision", type="decision", choices=[("yes", "Yes")])]
            )
        ],
        depends_on=["check"],
    )
    return OrchestrationSpec(
        key,
        name,
        stages=[
            StageSpec("request", steps=[request_form]),
            StageSpec(
                "review",
                entry_condition="input.amount > 10",
                steps=[check, decide],
                routes=[
                    RouteSpec('decide.decision == "rework"', go_to="request"),
                    RouteSpec('decide.decision == "no"', end="rejected"),
                ],
            ),
        ],
    )
