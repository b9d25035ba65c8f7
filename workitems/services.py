"""What people do to work items: claim, release, reassign, save a draft, complete.

Claims, releases and reassignments touch one work item row and no run state, so each is a
conditional UPDATE that only matches the state the user saw; zero rows means someone got
there first, and the row is re-read to say who. Completing goes through the engine, the only
code that changes run state. Errors are WorkItemError (or the engine's EngineError) whose
str() is a sentence for a business user.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from notifications.models import Notification
from notifications.outbox import deliver_after_commit
from orchestrator.dates import said_when
from orchestrator.models import Queue
from orchestrator.plan import load_plan
from runs import engine
from runs.duties import excluded_in_run, refusal
from runs.models import StepRun
from workitems import announce
from workitems.access import Role, can_reassign, can_reassign_any, role_of
from workitems.models import WorkItem, user_label

OPEN = WorkItem.Status.OPEN


class WorkItemError(Exception):
    """A request about a work item that is refused; str() is a sentence for the user."""


class NotAllowed(WorkItemError):
    """The user's role does not allow this (the views answer 403)."""


class WorkItemConflict(WorkItemError):
    """Someone got there first, or the item moved on since the user looked at it."""


class Excluded(WorkItemError):
    """Separation of duties: the person may not complete this step ("Ana Lopez started this
    run and cannot complete ...")."""


def excluded_people(item: WorkItem) -> dict[int, str]:
    """Who may not complete the item's step, by user id, with why (runs/duties.py): no query
    for a step that excludes nobody, one for a step that names earlier steps. Kept on the
    item for the request."""
    cached = getattr(item, "_excluded_people", None)
    if cached is None:
        plan = load_plan(item.step.version_id)
        step = plan.steps[item.step_id]
        cached = excluded_in_run(plan, step, run=item.run) if plan.has_exclusions(step) else {}
        item._excluded_people = cached
    return cached


def exclusion(item: WorkItem, person: User, *, you: bool = False) -> str:
    """Why `person` may not complete the item, as a sentence ("You" when `you`); "" if they
    may."""
    why = excluded_people(item).get(person.pk)
    if not why:
        return ""
    return refusal("You" if you else user_label(person), why, item.step)


def claim_work_item(*, item: WorkItem, user: User) -> None:
    """Make `user` the owner of an open, unclaimed queue item; records `work_item.claimed`."""
    if item.assignee_queue_id is None:
        raise NotAllowed(f"Only queue items are claimed; this one is for {item.assignee_label}.")
    if role_of(user, item) not in (Role.ACTOR, Role.QUEUE_MEMBER):
        raise NotAllowed(f"Only members of {item.assignee_label} can claim this item.")
    if refused := exclusion(item, user, you=True):
        raise Excluded(refused)
    with transaction.atomic():
        claimed = WorkItem.objects.filter(
            pk=item.pk, status=OPEN, owner=None, assignee_queue_id=item.assignee_queue_id
        ).update(owner=user)
        if not claimed:
            raise _conflict(item.pk, user)
        _record(
            item,
            "work_item.claimed",
            user,
            queue=item.assignee_label,
        )
    item.owner = user


def release_work_item(*, item: WorkItem, user: User) -> None:
    """Give a claimed queue item back to its queue (no owner); records `work_item.released`.
    The owner may release it; staff with the reassign permission may release anyone's."""
    if item.assignee_queue_id is None:
        raise NotAllowed("Only queue items can be released.")
    if item.owner_id is None:
        raise _conflict(item.pk, user, releasing=True)
    if item.owner_id != user.pk and not can_reassign_any(user):
        raise NotAllowed(f"Only {item.owner_label} can release this item.")
    previous_owner = item.owner_label
    with transaction.atomic():
        released = WorkItem.objects.filter(pk=item.pk, status=OPEN, owner_id=item.owner_id).update(
            owner=None
        )
        if not released:
            raise _conflict(item.pk, user, releasing=True)
        _record(
            item,
            "work_item.released",
            user,
            owner=previous_owner,
            queue=item.assignee_label,
        )
    item.owner = None


def reassignable_users(*, item: WorkItem, user: User) -> QuerySet:
    """Who `user` may hand the item to: staff with the permission, anyone active; the owner of
    a queue item, the other members of the queue; the assignee of a personal item, anyone."""
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .order_by("first_name", "last_name", "username")
    )
    if item.assignee_queue_id is not None and not can_reassign_any(user):
        users = users.filter(work_queues=item.assignee_queue_id)
    exclude = {pk for pk in (item.assignee_user_id, item.owner_id) if pk is not None}
    # Separation of duties: nobody who may not complete the step is offered.
    exclude |= set(excluded_people(item))
    return users.exclude(pk__in=exclude)


def reassignable_queues(*, item: WorkItem, user: User) -> QuerySet:
    """Every queue, except the one the item is already in (unless it is claimed there)."""
    queues = Queue.objects.order_by("name")
    if item.assignee_queue_id is not None and item.owner_id is None:
        queues = queues.exclude(pk=item.assignee_queue_id)
    return queues


def reassign_work_item(
    *,
    item: WorkItem,
    user: User,
    to_user: User | None = None,
    to_queue: Queue | None = None,
    reason: str = "",
) -> None:
    """Assign the item to another user (a personal item) or queue (unclaimed there); records
    `work_item.reassigned` with the previous and new assignee (and the operator's reason,
    when one is given: the run page asks for it), and tells them (the outbox)."""
    if (to_user is None) == (to_queue is None):
        raise WorkItemError("Choose one person or one queue to hand this item to.")
    if not can_reassign(user, item):
        if not item.step.allow_reassign and role_of(user, item) is Role.ACTOR:
            raise NotAllowed(f'"{item.step.label}" cannot be reassigned.')
        raise NotAllowed("Only the person this item is for can reassign it.")
    if to_user is not None and to_user.pk == item.assignee_user_id:
        raise WorkItemConflict(f"This item is already with {user_label(to_user)}.")
    if to_user is not None and (refused := exclusion(item, to_user)):
        raise Excluded(refused)
    if to_queue is not None and to_queue.pk == item.assignee_queue_id and item.owner_id is None:
        raise WorkItemConflict(f"This item is already in the {to_queue.name} queue.")
    if (
        to_user is not None
        and not reassignable_users(item=item, user=user).filter(pk=to_user.pk).exists()
    ):
        raise WorkItemError(f"This item cannot be handed to {user_label(to_user)}.")
    if (
        to_queue is not None
        and not reassignable_queues(item=item, user=user).filter(pk=to_queue.pk).exists()
    ):
        raise WorkItemError(f"This item cannot be handed to the {to_queue.name} queue.")
    previous = _assignment_label(item)
    with transaction.atomic():
        # Only matches the assignment the user saw: a claim or another reassignment in
        # between makes this update miss, and the user is told what changed.
        moved = WorkItem.objects.filter(
            pk=item.pk,
            status=OPEN,
            assignee_user_id=item.assignee_user_id,
            assignee_queue_id=item.assignee_queue_id,
            assignee_group_id=item.assignee_group_id,
            owner_id=item.owner_id,
        ).update(
            assignee_user=to_user,
            assignee_queue=to_queue,
            assignee_group=None,
            owner=None,
            unassigned_because="",
        )
        if not moved:
            raise _conflict(item.pk, user)
        item.assignee_user, item.assignee_queue, item.assignee_group = to_user, to_queue, None
        item.owner = None
        item.unassigned_because = ""
        event = _record(
            item,
            "work_item.reassigned",
            user,
            previous=previous,
            to=item.assignee_label,
            **({"reason": reason} if reason else {}),
        )
        # Whom it was handed to is told, in this transaction (the outbox).
        notify(announce.reassigned(item, event_id=event.pk, by=user_label(user), reason=reason))


def save_draft(*, item: WorkItem, user: User, screen: int, values: dict[str, Any]) -> bool:
    """Merge the values typed on one screen into the item's draft and remember the screen the
    user is on (a conditional update on the open item). False if the item is no longer open:
    the values then live only in the form the user sees."""
    _require_actor(item, user)
    draft = {**(item.draft or {}), **values}
    saved = WorkItem.objects.filter(pk=item.pk, status=OPEN).update(
        draft=draft, current_screen=screen
    )
    if saved:
        item.draft, item.current_screen = draft, screen
    return bool(saved)


def complete_work_item(*, item: WorkItem, user: User, answers: dict[str, Any]) -> StepRun:
    """Complete the item's step run with the answers: the engine stores them as the step's
    outputs, marks the item completed and advances the run. Raises the engine's EngineError
    when someone got there first ("Already completed by Ana at 10:42.") or the item was
    released or reassigned meanwhile (the interactive kind checks that under the run lock)."""
    if item.is_open:
        _require_actor(item, user)
    return engine.complete_step(
        run_id=item.run_id, step_run_id=item.step_run_id, outputs=answers, user=user
    )


def _record(item: WorkItem, kind: str, actor, **data):
    """Append a work item event (claim, release, reassignment, escalation) to its run's log."""
    return engine.record_event(
        run_id=item.run_id,
        step_run_id=item.step_run_id,
        kind=kind,
        actor=actor,
        work_item=item.pk,
        **data,
    )


def _require_actor(item: WorkItem, user: User) -> None:
    role = role_of(user, item)
    if role is Role.ACTOR:
        return
    if role is Role.QUEUE_MEMBER:
        if item.owner_id is None:
            raise WorkItemConflict("Claim this item before working on it.")
        raise WorkItemConflict(f"Already claimed by {item.owner_label}.")
    raise NotAllowed(f"Only {item.assignee_label} can work on this item.")


def _reread(pk: int) -> WorkItem:
    return WorkItem.objects.select_related(
        "step", "owner", "assignee_user", "assignee_queue", "assignee_group", "completed_by"
    ).get(pk=pk)


def _conflict(pk: int, user: User, *, releasing: bool = False) -> WorkItemConflict:
    """What changed since the user looked: re-read the item and say it in a sentence."""
    current = _reread(pk)
    if not current.is_open:
        return WorkItemConflict(closed_message(current))
    if current.owner_id == user.pk:
        return WorkItemConflict("You have already claimed this item.")
    if current.owner_id is not None:
        return WorkItemConflict(f"Already claimed by {current.owner_label}.")
    if releasing and current.assignee_queue_id is not None:
        return WorkItemConflict("This item is not claimed by anyone.")
    return WorkItemConflict(
        f"This item was reassigned meanwhile; it is now for {current.assignee_label}."
    )


def closed_message(item: WorkItem) -> str:
    """Why a work item that is no longer open cannot be worked on."""
    when = said_when(item.completed_at)
    if item.status == WorkItem.Status.COMPLETED:
        who = user_label(item.completed_by) if item.completed_by_id else "someone else"
        return f"Already completed by {who} {when}.".replace(" .", ".")
    return f"This work item was cancelled {when}.".replace(" .", ".")


def _assignment_label(item: WorkItem) -> str:
    if item.owner_id is not None:
        return f"{item.assignee_label} (claimed by {item.owner_label})"
    return item.assignee_label


def escalate_work_item(*, item: WorkItem, now) -> bool:
    """Hand an open item past its escalation time to the step's `escalate_to` user (a
    personal item, unclaimed) and stamp `escalated_at`, so it escalates once; records
    `work_item.escalated` and tells the user it went to (the outbox, in the caller's
    transaction). When that user may not complete the step (separation of duties), the item
    stays where it is and the event says why. True if the item was handed over. The caller
    holds the item's row lock."""
    assert transaction.get_connection().in_atomic_block
    previous = _assignment_label(item)
    target = item.step.escalate_to
    refused = exclusion(item, target) if target is not None else ""
    if refused:
        target = None
    fields = ["escalated_at"]
    item.escalated_at = now
    if target is not None:
        item.assignee_user, item.assignee_queue, item.assignee_group = target, None, None
        item.owner = None
        item.unassigned_because = ""
        fields += ["assignee_user", "assignee_queue", "assignee_group", "owner"]
        fields += ["unassigned_because"]
    item.save(update_fields=fields)
    _record(
        item,
        "work_item.escalated",
        None,
        previous=previous,
        to=item.assignee_label if target is not None else None,
        **({"refused": refused} if refused else {}),
    )
    if target is not None:
        notify(announce.escalated(item))
    return target is not None


def notify(rows: list[Notification]) -> None:
    """Write outbox rows in the current transaction; a worker sends them after it commits."""
    Notification.objects.bulk_create(deliver_after_commit(rows))
