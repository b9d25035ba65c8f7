"""The hiring orchestration the repair tests stop: HR leaves the optional salary empty, and
the route condition that compares it with a number cannot be evaluated."""

from orchestrator.specs import FieldSpec, OrchestrationSpec, RouteSpec, StageSpec, StepSpec, build

SALARY = FieldSpec("salary", "Salary", "decimal", required=False)
NAME = FieldSpec("name", "Name")
ROUTE_FAILED = (
    'The route condition of stage "Hire" (new_hire_form.salary > 100000) could not be '
    "evaluated: it compares or combines an empty answer with a number. Correct the answers "
    'of "New hire form" below, then retry.'
)


def hiring(assignee, **stage_options) -> None:
    """HR fills in the new hire form (the salary is optional); a salary above 100,000 goes
    to the board, any other to the welcome stage, which ends the run."""
    form = StepSpec("new_hire_form", "New hire form", assignee=assignee, fields=[NAME, SALARY])
    build(
        OrchestrationSpec(
            "hiring",
            stages=[
                StageSpec(
                    "hire",
                    "Hire",
                    steps=[form],
                    routes=[RouteSpec("new_hire_form.salary > 100000", go_to="board")],
                    **stage_options,
                ),
                StageSpec(
                    "welcome",
                    steps=[StepSpec("welcome_pack", assignee=assignee)],
                    routes=[RouteSpec(end="welcomed")],
                ),
                StageSpec("board", steps=[StepSpec("board_approval", assignee=assignee)]),
            ],
        )
    )
