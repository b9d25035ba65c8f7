"""The `wait` action: hold the step for a duration or until a time; the sweeper fires it."""

import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_duration

from orchestrator.actions.registry import ActionFailed, Param, Suspend, register_action


@register_action(
    "wait",
    params=[
        Param("duration", (str, int, float), help='Seconds, or "1 02:00:00", or "P2D".'),
        Param("until", str, help="An ISO date-time (or an expression giving one)."),
    ],
)
def wait(params, context):
    """Wait for a duration or until a time. No worker sleeps: the sweeper's timer fires it."""
    now = timezone.now()
    if params.get("until"):
        until = parse_datetime(str(params["until"]))
        if until is None:
            raise ActionFailed(f"{params['until']!r} is not a date and time.")
        if timezone.is_naive(until):
            until = timezone.make_aware(until)
    elif params.get("duration") is not None:
        value = params["duration"]
        if isinstance(value, int | float):
            delta = datetime.timedelta(seconds=value)
        else:
            delta = parse_duration(str(value))
            if delta is None:
                raise ActionFailed(f"{value!r} is not a duration.")
        until = now + delta
    else:
        raise ActionFailed("The wait action needs a duration or an until time.")
    return Suspend(until=until, outputs={"waited_until": until.isoformat()})
