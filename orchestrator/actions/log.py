"""The `log` action: write a message to the worker log and keep it as the step's output."""

import logging

from orchestrator.actions.registry import Param, register_action

logger = logging.getLogger("orchestrator.actions.log")


@register_action(
    "log",
    params=[
        Param("message", str, required=True, help="A template over the run data."),
        Param("level", str, help="debug, info (default), warning or error."),
    ],
)
def log(params, context):
    """Write a message to the log."""
    level = getattr(logging, str(params.get("level") or "info").upper(), logging.INFO)
    logger.log(level, "run %s: %s", context.run_id, params["message"])
    return {"message": params["message"]}
