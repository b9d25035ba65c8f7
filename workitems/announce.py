"""Work that reaches people: the outbox rows for a work item that opens, is reassigned, is
escalated or is due a reminder, and the emails they become (registered with the outbox from
WorkitemsConfig.ready()).

Who is told: the assigned user; for a queue, its own address if it has one, else the
member who claimed the item, else every active member with an address; for a group, every
active member with an address. One row per person, each with its delivery key.
"""

import datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from notifications.messages import build_email, moment, site_link
from notifications.models import Notification
from notifications.outbox import Email, Undeliverable, notification, register_renderer
from orchestrator.models import Queue
from workitems.models import WorkItem

Recipient = tuple[int | None, str]  # a user id, or an address


def opened(items: list[WorkItem], now: datetime.datetime) -> list[Notification]:
    """Rows telling the people each new item is for (one query for the members of the
    queues and groups among them, none when every item is for a person)."""
    audience = _audiences(items)
    return [
        notification(
            key=f"work_item.opened:{item.step_run.pk}",
            kind="work_item.opened",
            now=now,
            run=item.run,
            step_run=item.step_run,
            recipient_id=user_id,
            address=address,
        )
        for item in items
        for user_id, address in audience[id(item)]
    ]


def reassigned(item: WorkItem, *, event_id: int, by: str, reason: str) -> list[Notification]:
    """Rows telling whom the item was just handed to (the reassignment's event is the cause)."""
    data = {"work_item": item.pk, "by": by, **({"reason": reason} if reason else {})}
    return _rows(item, f"work_item.reassigned:{item.pk}:{event_id}", "work_item.reassigned", data)


def escalated(item: WorkItem) -> list[Notification]:
    """Rows telling whom the item was escalated to (once per item)."""
    return _rows(
        item, f"work_item.escalated:{item.pk}", "work_item.escalated", {"work_item": item.pk}
    )


def reminded(item: WorkItem, due: datetime.datetime) -> list[Notification]:
    """Rows reminding the people the item waits for; `due`, the reminder's time, is the cause."""
    return _rows(
        item,
        f"work_item.reminder:{item.pk}:{due.isoformat()}",
        "work_item.reminder",
        {"work_item": item.pk},
    )


def _rows(item: WorkItem, key: str, kind: str, data: dict) -> list[Notification]:
    now = timezone.now()
    return [
        notification(
            key=key,
            kind=kind,
            now=now,
            run_id=item.run_id,
            step_run_id=item.step_run_id,
            recipient_id=user_id,
            address=address,
            data=data,
        )
        for user_id, address in _audiences([item])[id(item)]
    ]


def _audiences(items: list[WorkItem]) -> dict[int, list[Recipient]]:
    """Whom each item is for, by id(item): one query for all the members needed."""
    queues: dict[int, Queue] = {}
    groups: set[int] = set()
    for item in items:
        if item.assignee_user_id or item.owner_id:
            continue
        if item.assignee_queue_id is not None:
            queue = item.assignee_queue
            if not queue.email:
                queues[queue.pk] = queue
        elif item.assignee_group_id is not None:
            groups.add(item.assignee_group_id)
    members = _members(set(queues), groups)
    audience: dict[int, list[Recipient]] = {}
    for item in items:
        if item.owner_id is not None:
            found = [(item.owner_id, "")]
        elif item.assignee_user_id is not None:
            found = [(item.assignee_user_id, "")]
        elif item.assignee_queue_id is not None:
            email = item.assignee_queue.email
            found = [(None, email)] if email else members.get(("queue", item.assignee_queue_id), [])
        elif item.assignee_group_id is not None:
            found = members.get(("group", item.assignee_group_id), [])
        else:
            found = []
        audience[id(item)] = found
    return audience


def _members(queue_ids: set[int], group_ids: set[int]) -> dict[tuple[str, int], list[Recipient]]:
    """The active members with an address of these queues and groups, in one statement."""
    if not queue_ids and not group_ids:
        return {}
    user = get_user_model()._meta
    quote = connection.ops.quote_name
    users = (
        f"JOIN {quote(user.db_table)} u ON u.{quote(user.pk.column)} = m.user_id "
        "WHERE u.is_active AND u.email <> ''"
    )
    parts, params = [], []
    if queue_ids:
        table = Queue.members.through._meta.db_table
        parts.append(
            f"SELECT 'queue', m.queue_id, m.user_id FROM {quote(table)} m {users} "
            f"AND m.queue_id IN ({', '.join(['%s'] * len(queue_ids))})"
        )
        params += sorted(queue_ids)
    if group_ids:
        table = get_user_model().groups.through._meta.db_table
        parts.append(
            f"SELECT 'group', m.group_id, m.user_id FROM {quote(table)} m {users} "
            f"AND m.group_id IN ({', '.join(['%s'] * len(group_ids))})"
        )
        params += sorted(group_ids)
    found: dict[tuple[str, int], list[Recipient]] = {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts) + " ORDER BY 3", params)
        for pool, pool_id, user_id in cursor.fetchall():
            found.setdefault((pool, pool_id), []).append((user_id, ""))
    return found


# The emails ------------------------------------------------------------------------------


def _item(row: Notification) -> WorkItem:
    items = WorkItem.objects.select_related(
        "step", "run", "orchestration", "assignee_queue", "assignee_group"
    )
    if "work_item" in row.data:
        item = items.filter(pk=row.data["work_item"]).first()
    else:
        item = items.filter(step_run_id=row.step_run_id).order_by("-id").first()
    if item is None:
        raise Undeliverable("The work item this was about no longer exists.")
    return item


def _facts(item: WorkItem) -> list[tuple[str, str]]:
    run = item.run
    return [
        ("Step", item.step.label),
        ("Run", run.title or f"#{run.pk}"),
        ("Orchestration", item.orchestration.name),
        ("Due", moment(item.due_at) if item.due_at else "No due date"),
    ]


def _link(item: WorkItem) -> str:
    return site_link(reverse("workitems:work_item", args=[item.pk]))


def _about(item: WorkItem) -> str:
    title = f" for {item.run.title}" if item.run.title else ""
    return f'"{item.step.label}" ({item.orchestration.name}{title})'


def _how(item: WorkItem) -> str:
    if item.assignee_queue_id is not None and item.owner_id is None:
        return f" in the {item.assignee_queue.name} queue: claim it to work on it"
    if item.assignee_group_id is not None:
        return f" as a member of {item.assignee_group.name}: the first to act completes it"
    return ""


def render_opened(row: Notification) -> Email:
    item = _item(row)
    return build_email(
        subject=f"New work: {item.step.label}",
        paragraphs=[f"{_about(item)} is waiting for you{_how(item)}."],
        facts=_facts(item),
        link=_link(item),
    )


def render_reassigned(row: Notification) -> Email:
    item = _item(row)
    paragraphs = [
        f"{_about(item)} was handed to you by {row.data.get('by', 'someone')}{_how(item)}."
    ]
    if row.data.get("reason"):
        paragraphs.append(f"The reason given: {row.data['reason']}")
    return build_email(
        subject=f"Assigned to you: {item.step.label}",
        paragraphs=paragraphs,
        facts=_facts(item),
        link=_link(item),
    )


def render_escalated(row: Notification) -> Email:
    item = _item(row)
    return build_email(
        subject=f"Escalated to you: {item.step.label}",
        paragraphs=[
            f"{_about(item)} was not completed in time and has been passed to you.",
            lateness(item, timezone.now()),
        ],
        facts=_facts(item),
        link=_link(item),
    )


def _since(earlier: datetime.datetime, later: datetime.datetime) -> str:
    """ "1 day, 2 hours", with plain spaces (Django's timesince() joins with no-break ones)."""
    return timesince(earlier, later).replace("\xa0", " ")


def lateness(item: WorkItem, now: datetime.datetime) -> str:
    """How late the item is, from its due date and now (or how long it has waited, when it
    has no due date)."""
    if item.due_at is None:
        return (
            f"It has been waiting since {moment(item.created_at)} "
            f"({_since(item.created_at, now)}); it has no due date."
        )
    if item.due_at > now:
        return f"It is due {moment(item.due_at)}, in {_since(now, item.due_at)}."
    return f"It was due {moment(item.due_at)}: it is {_since(item.due_at, now)} late."


def render_reminder(row: Notification) -> Email:
    item = _item(row)
    paragraphs = [f"{_about(item)} has been waiting for you since {moment(item.created_at)}."]
    if item.due_at is not None:
        verb = "was" if item.due_at < timezone.now() else "is"
        paragraphs.append(f"It {verb} due {moment(item.due_at)}.")
    return build_email(
        subject=f"Reminder: {item.step.label}",
        paragraphs=paragraphs,
        facts=_facts(item),
        link=_link(item),
    )


def register() -> None:
    register_renderer("work_item.opened", render_opened, what="New work item")
    register_renderer("work_item.reassigned", render_reassigned, what="Reassigned")
    register_renderer("work_item.escalated", render_escalated, what="Escalated")
    register_renderer("work_item.reminder", render_reminder, what="Reminder")
