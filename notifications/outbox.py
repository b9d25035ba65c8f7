"""Writing to the outbox, and what turns its rows into messages.

A cause (a work item opened, a run ended) writes its rows in its own transaction, with
`notification(...)` for each recipient; `deliver_after_commit(rows)` then asks a worker to
send them once that transaction commits. A rollback takes the rows and the request with it;
a lost request is made again by the sweeper (notifications/sweeper.py). The rows are plain
instances, so that the engine writes them with its own writes (runs/listeners.py, the step
kinds' `start()`), or a service with `Notification.objects.bulk_create()`.

A kind of message ("work_item.opened") has a renderer, registered by the app that knows the
cause: it gets the row and returns the Email to send, or raises Undeliverable.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from notifications.models import Notification


@dataclass
class Email:
    """A message to one address: plain text (written as is) and HTML (built from the same
    parts by notifications/messages.py, everything escaped once)."""

    subject: str
    text: str
    html: str
    to: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Undeliverable(Exception):
    """The row cannot be sent, whatever the retries (say why in a sentence): it fails."""


Renderer = Callable[[Notification], Email]
_renderers: dict[str, Renderer] = {}
_what: dict[str, str] = {}


def register_renderer(kind: str, renderer: Renderer, *, what: str) -> None:
    """`what` says in a few words what such a message is about ("New work item"): the run
    page lists the rows by it."""
    _renderers[kind] = renderer
    _what[kind] = what


def what(kind: str) -> str:
    return _what.get(kind, kind)


def render(notification: Notification) -> Email:
    try:
        renderer = _renderers[notification.kind]
    except KeyError:
        raise Undeliverable(f'Nothing renders "{notification.kind}" messages.') from None
    return renderer(notification)


def notification(
    *,
    key: str,
    kind: str,
    now: datetime.datetime,
    run=None,
    run_id: int | None = None,
    step_run=None,
    step_run_id: int | None = None,
    recipient_id: int | None = None,
    address: str = "",
    data: dict | None = None,
) -> Notification:
    """A new row (not saved): `key` names the cause and the recipient, once."""
    row = Notification(
        key=f"{key}:user:{recipient_id}" if recipient_id else f"{key}:address:{address}",
        kind=kind,
        recipient_id=recipient_id,
        address=address,
        data=data or {},
        created_at=now,
        dispatched_at=now,
    )
    if run is not None:
        row.run = run
    else:
        row.run_id = run_id
    if step_run is not None:
        row.step_run = step_run
    else:
        row.step_run_id = step_run_id
    return row


def deliver_after_commit(rows: list[Notification]) -> list[Notification]:
    """Ask a worker to send these rows once the current transaction commits (one message to
    the broker for all of them); nothing is asked if it rolls back."""
    keys = [row.key for row in rows]
    if keys:
        from notifications.tasks import deliver

        transaction.on_commit(lambda: deliver.apply_async((keys,)), robust=True)
    return rows
