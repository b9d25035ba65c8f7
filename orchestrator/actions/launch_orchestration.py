"""The `launch_orchestration` action: start a child run, optionally waiting for its outcome."""

from orchestrator.actions.registry import LaunchChild, Param, register_action


@register_action(
    "launch_orchestration",
    params=[
        Param("orchestration", str, required=True, help="The key of the orchestration."),
        Param("inputs", dict, help="Launch inputs; string values may be expressions."),
        Param("wait", bool, help="Wait for the child run and take its outcome (default no)."),
    ],
)
def launch_orchestration(params, context):
    """Start a run of another orchestration (the engine launches it under the run lock)."""
    return LaunchChild(
        orchestration_key=params["orchestration"],
        inputs=params.get("inputs") or {},
        wait=bool(params.get("wait")),
    )
