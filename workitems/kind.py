"""The interactive step kind: a step run waits for a person, through a work item."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from notifications.models import Notification
from notifications.outbox import deliver_after_commit
from orchestrator.expressions import ExpressionError, evaluate
from orchestrator.models import Queue
from runs.answers import fields_of
from runs.duties import refusal
from runs.kinds import (
    FilledRows,
    RunPageSection,
    StepCannotStart,
    StepKind,
    StepRefused,
    StepStart,
)
from runs.models import StepRun
from workitems import announce
from workitems.forms import AnswersForm
from workitems.models import WorkItem, user_label


class InteractiveKind(StepKind):
    start_status = StepRun.Status.WAITING

    def prepare(self, start: StepStart) -> WorkItem:
        step = start.step
        item = start.new_row(
            WorkItem,
            run=start.run,
            orchestration_id=start.run.orchestration_id,
            step=step,
            created_at=start.now,
        )
        kind = step.assignee_type
        if kind == step.AssigneeType.USER:
            item.assignee_user_id = step.assignee_user_id
        elif kind == step.AssigneeType.QUEUE:
            # The plan's queue (its address tells whom to announce the item to: no query).
            item.assignee_queue = step.assignee_queue
        elif kind == step.AssigneeType.GROUP:
            item.assignee_group_id = step.assignee_group_id
        elif kind == step.AssigneeType.STARTER:
            if not start.run.started_by_id:
                raise StepCannotStart(
                    f'"{step.label}" is for the person who started the run, but nobody did '
                    "(it was started by the system)."
                )
            item.assignee_user_id = start.run.started_by_id
        elif kind == step.AssigneeType.EXPRESSION:
            item.assignee_user_id = _user_from_expression(step, start.data)
        else:
            raise StepCannotStart(f'"{step.label}" has no assignee.')
        why = start.excluded.get(item.assignee_user_id)
        if why:
            # Separation of duties: the person the step names may not complete it. The item
            # waits unassigned, with the reason on the run page, for an operator to reassign
            # it (failing the run would lose the work done so far; a retry would fail again).
            person = user_label(get_user_model().objects.get(pk=item.assignee_user_id))
            item.assignee_user_id = None
            item.unassigned_because = (
                f"{refusal(person, why, step)} An operator must hand it to someone else."
            )
        if step.due_in:
            item.due_at = start.now + step.due_in
        if step.remind_every:
            item.next_reminder_at = start.now + step.remind_every
        if step.escalate_after:
            item.escalate_at = start.now + step.escalate_after
        return item

    def start(self, starts: list[StepStart]) -> list[WorkItem | Notification]:
        """The new work items, and the outbox rows that tell their people (workitems/
        announce.py), written with the transaction that opens them."""
        items = []
        for start in starts:
            item = start.prepared
            item.step_run = start.step_run
            items.append(item)
        rows = announce.opened(items, starts[0].now)
        # Queue and group members who may not complete the step (separation of duties) are
        # not told of it.
        excluded = {start.step_run.pk: start.excluded for start in starts if start.excluded}
        if excluded:
            rows = [
                row for row in rows if row.recipient_id not in excluded.get(row.step_run.pk, {})
            ]
        return [*items, *deliver_after_commit(rows)]

    def completed(self, step_run, user, now) -> None:
        """Close the open work item, only if `user` may still act on it: the assignee, the
        owner of a claimed queue item, or a member of the assigned group. The check is part
        of the UPDATE, under the run's lock, so a release or reassignment that slipped in
        after the view's own check is caught here, with no extra query. Plain SQL: built by
        the ORM on every completion, this statement cost about 1 ms of CPU."""
        table = WorkItem._meta.db_table
        memberships = get_user_model().groups.through._meta.db_table
        sql = (
            f"UPDATE {table} SET status = %s, completed_by_id = %s, completed_at = %s "
            "WHERE step_run_id = %s AND status = %s"
        )
        params = [
            WorkItem.Status.COMPLETED,
            getattr(user, "pk", None),
            connection.ops.adapt_datetimefield_value(now),
            step_run.pk,
            WorkItem.Status.OPEN,
        ]
        if user is not None:
            sql += (
                " AND (assignee_user_id = %s OR (assignee_queue_id IS NOT NULL AND owner_id = %s)"
                f" OR assignee_group_id IN (SELECT group_id FROM {memberships} WHERE user_id = %s))"
            )
            params += [user.pk, user.pk, user.pk]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            closed = cursor.rowcount
        if not closed:
            raise StepRefused(
                "This item is no longer yours to complete: it was released or reassigned meanwhile."
            )

    def answers_form(self, plan, step_run, data=None) -> AnswersForm | None:
        """The fields of the step's screen flow, opened with the step run's answers (None for
        a step without fields: nothing to correct)."""
        fields = fields_of(plan, plan.steps[step_run.step_id])
        if not fields:
            return None
        return AnswersForm(fields, step_run.outputs, data=data, prefix=f"answers-{step_run.pk}")

    def cancel(self, step_runs, now) -> None:
        WorkItem.objects.filter(
            step_run__in=[step_run.pk for step_run in step_runs], status=WorkItem.Status.OPEN
        ).update(status=WorkItem.Status.CANCELLED, completed_at=now)

    # What the pages ask (runs/kinds.py): answered from the work items.

    def waiting_for(self, step_runs) -> dict[int, str]:
        """Whom the open work items of these step runs wait for: the person who claimed one,
        else its assignee. One query."""
        items = _open_items(step_runs).select_related(
            "assignee_user", "assignee_queue", "assignee_group", "owner"
        )
        return {item.step_run_id: waits_for(item) for item in items}

    def run_page_section(self, run, step_runs) -> RunPageSection | None:
        """ "Waiting for people": the open work items, their assignee, owner, age and due date,
        and a reassign form for operators allowed to use it (the queues are read only when
        it is shown). One query, two with the form."""
        items = list(
            _open_items(step_runs)
            .select_related("step", "assignee_user", "assignee_queue", "assignee_group", "owner")
            .order_by("created_at", "id")
        )
        if not items:
            return None
        return RunPageSection(
            template="workitems/run_page_section.html",
            context={"work_items": items, "queues": Queue.objects.order_by("name")},
        )

    def participant_filter(self, user) -> Exists:
        """The user is or was the assignee, owner or completer of one of the run's work
        items, directly or through a queue or group."""
        return Exists(
            WorkItem.objects.filter(run=OuterRef("pk")).filter(
                Q(assignee_user=user)
                | Q(owner=user)
                | Q(completed_by=user)
                | Q(assignee_queue__members=user)
                | Q(assignee_group__user=user)
            )
        )

    def overdue_filter(self, now) -> Exists:
        """An open work item due before now (served by the partial index wi_open_due)."""
        return Exists(
            WorkItem.objects.filter(run=OuterRef("pk"), status=WorkItem.Status.OPEN, due_at__lt=now)
        )

    def fill_history(self, cursor, *, after_run_id: int) -> list[FilledRows]:
        from workitems.history import fill_work_items

        return [fill_work_items(cursor, after_run_id=after_run_id)]


def _user_from_expression(step, data) -> int:
    """The user an assignee expression names: a user id, or a username."""
    source = step.assignee_expression
    try:
        value = evaluate(source, data)
    except ExpressionError as exc:
        raise StepCannotStart(
            f'The assignee of step "{step.label}" ({source}) could not be computed: {exc.reason}.',
            reads=source,
        ) from exc
    found = _active_user_id(value)
    if found is None:
        raise StepCannotStart(
            f'The assignee of step "{step.label}" ({source} = {value!r}) is not an active user.',
            reads=source,
        )
    return found


def _open_items(step_runs):
    return WorkItem.objects.filter(
        step_run__in=[step_run.pk for step_run in step_runs], status=WorkItem.Status.OPEN
    )


def waits_for(item: WorkItem) -> str:
    """Whom an open work item waits for, in words: "Ana", "the IT queue"."""
    if item.owner_id:
        return user_label(item.owner)
    if item.assignee_user_id:
        return user_label(item.assignee_user)
    if item.assignee_queue_id:
        return f"the {item.assignee_queue.name} queue"
    if item.assignee_group_id:
        return f"the {item.assignee_group.name} group"
    return "someone (not assigned yet)"


def _active_user_id(value) -> int | None:
    """The id of the active user that `value` names: a user id, or a username. Plain SQL:
    built by the ORM, this one read cost more CPU than the rest of the step's start."""
    user_model = get_user_model()
    meta = user_model._meta
    if isinstance(value, int) and not isinstance(value, bool):
        column = meta.pk.column
    elif isinstance(value, str) and value:
        column = meta.get_field(user_model.USERNAME_FIELD).column
    else:
        return None
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(meta.pk.column)} FROM {quote(meta.db_table)} "
            f"WHERE {quote(column)} = %s AND {quote(meta.get_field('is_active').column)}",
            [value],
        )
        row = cursor.fetchone()
    return row[0] if row else None
