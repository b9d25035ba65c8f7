"""Waiting for what another process does (a worker, the browser, a live server): poll a
condition until it holds, or fail saying what did not happen."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimedOut(AssertionError):
    """The condition did not hold in time."""


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str | Callable[[], str] = "the condition",
) -> T:
    """Call `condition` until it returns a true value, and return that value. After
    `timeout` seconds raise `WaitTimedOut` naming `message` (a callable is asked then, e.g.
    for the tail of a log). An exception from `condition` ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            what = message() if callable(message) else message
            raise WaitTimedOut(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
