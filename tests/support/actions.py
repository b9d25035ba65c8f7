"""Test-only actions, registered in the test process and in worker processes started by tests
(ACTION_MODULES includes this module there)."""

import time
from pathlib import Path

from orchestrator.actions import ActionFailed, Param, register_action


@register_action(
    "test_flaky",
    params=[
        Param("counter", str, required=True, help="A file counting calls."),
        Param("fail_times", int, help="Fail this many calls, then succeed."),
        Param("sleep", (int, float), help="Sleep this long on the first call."),
    ],
)
def test_flaky(params, context):
    """Append a line per call to `counter`; fail the first `fail_times` calls."""
    counter = Path(params["counter"])
    with counter.open("a") as file:
        file.write(f"{context.step_run_id} {context.attempt}\n")
    calls = len(counter.read_text().splitlines())
    if calls == 1 and params.get("sleep"):
        time.sleep(float(params["sleep"]))
    if calls <= int(params.get("fail_times") or 0):
        raise ActionFailed(f"Planned failure {calls}")
    return {"calls": calls}


@register_action("test_fail_while", params=[Param("flag", str, required=True)])
def test_fail_while(params, context):
    """Fail while the file `flag` exists (an operator "fixes the cause" by removing it)."""
    if Path(params["flag"]).exists():
        raise ActionFailed("The ledger service is down.")
    return {"ok": True}
