"""Actions: what a background step does. Built-ins register on import; see registry.py."""

from orchestrator.actions import (  # noqa: F401  (registers the built-in actions)
    http_request,
    launch_orchestration,
    log,
    send_email,
    update_record,
    wait,
)
from orchestrator.actions.registry import (
    ActionContext,
    ActionFailed,
    InvalidParameter,
    LaunchChild,
    Param,
    Result,
    Suspend,
    get_action,
    register_action,
    registered_actions,
)

__all__ = [
    "ActionContext",
    "ActionFailed",
    "InvalidParameter",
    "LaunchChild",
    "Param",
    "Result",
    "Suspend",
    "get_action",
    "register_action",
    "registered_actions",
]
