"""Run listeners: how other apps hear what the engine does, without the engine importing them.

A listener is a small object registered from an app's `AppConfig.ready()` (the
`notifications` app registers one: the outbox). The engine calls, inside the run's lock:

- `on_events(state, events)` once per write of a unit of work, with the events of that write
  (`run.completed`, `step.started`...) and the RunState they happened to: return the new
  rows to write with the transaction's writes (the engine inserts them in bulk, one statement
  per model; their ids are not read back), schedule side effects with
  transaction.on_commit. Whatever it writes commits or rolls back with the run's change.

The run page asks every listener for a section (`run_page_section(run)`), as it asks the step
kinds about their waiting steps. The same point will serve webhooks.
"""

from collections.abc import Iterable
from typing import Any

from runs.kinds import RunPageSection
from runs.models import Run, RunEvent


class RunListener:
    def on_events(self, state: Any, events: list[RunEvent]) -> Iterable[Any]:
        """New rows to write with these events (`state`: the engine's RunState)."""
        return ()

    def run_page_section(self, run: Run) -> RunPageSection | None:
        """A section of the run page, or None. One query at most, whatever the run's size."""
        return None


_listeners: list[RunListener] = []


def register_listener(listener: RunListener) -> None:
    if not any(type(existing) is type(listener) for existing in _listeners):
        _listeners.append(listener)


def registered_listeners() -> list[RunListener]:
    return list(_listeners)
