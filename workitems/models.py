"""Work items: the unit of work a person sees in their inbox, one per interactive step run."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from orchestrator.models import Orchestration, Queue, Step
from runs.answers import person_label as user_label
from runs.models import Run, StepRun


class WorkItem(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="work_items")
    # Denormalised from the step run, so that the inbox lists and filters without joins.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="work_items")
    orchestration = models.ForeignKey(Orchestration, on_delete=models.PROTECT, related_name="+")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    # Exactly one of the three assignees is set.
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_work_items",
    )
    assignee_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_items"
    )
    assignee_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_items"
    )
    # Who claimed a queue item (and so owns it).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_work_items",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # Why an item has no assignee: the one its step named may not complete it (separation of
    # duties), so it waits for an operator to reassign it. Cleared when it is reassigned.
    unassigned_because = models.CharField(max_length=500, blank=True, default="", db_default="")
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Answers typed so far (all screens), and the screen the user was on.
    draft = models.JSONField(default=dict, blank=True)
    current_screen = models.PositiveIntegerField(default=0)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("reassign_any_workitem", "Can reassign any work item")]
        constraints = [
            # One open work item per step run.
            models.UniqueConstraint(
                fields=["step_run"], condition=Q(status="open"), name="one_open_item_per_step_run"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        assignee_user__isnull=False,
                        assignee_queue__isnull=True,
                        assignee_group__isnull=True,
                    )
                    | Q(
                        assignee_user__isnull=True,
                        assignee_queue__isnull=False,
                        assignee_group__isnull=True,
                    )
                    | Q(
                        assignee_user__isnull=True,
                        assignee_queue__isnull=True,
                        assignee_group__isnull=False,
                    )
                    | Q(
                        assignee_user__isnull=True,
                        assignee_queue__isnull=True,
                        assignee_group__isnull=True,
                    )
                ),
                name="at_most_one_assignee",
            ),
        ]
        indexes = [
            # Inbox: open items assigned to a user, to a queue, to a group, owned by a user.
            models.Index(
                fields=["assignee_user", "due_at"],
                name="wi_open_user",
                condition=Q(status="open"),
            ),
            models.Index(
                fields=["assignee_queue", "due_at"],
                name="wi_open_queue",
                condition=Q(status="open"),
            ),
            models.Index(
                fields=["assignee_group", "due_at"],
                name="wi_open_group",
                condition=Q(status="open"),
            ),
            models.Index(
                fields=["owner", "due_at"], name="wi_open_owner", condition=Q(status="open")
            ),
            # Reminders and escalations.
            models.Index(
                fields=["next_reminder_at"],
                name="wi_open_reminder",
                condition=Q(status="open", next_reminder_at__isnull=False),
            ),
            models.Index(
                fields=["escalate_at"],
                name="wi_open_escalate",
                condition=Q(status="open", escalate_at__isnull=False, escalated_at__isnull=True),
            ),
            # Run dashboard: runs with an overdue work item (open, due before now).
            models.Index(fields=["due_at", "run"], name="wi_open_due", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} (run {self.run_id})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def assignee_label(self) -> str:
        """Who the item is for, in words ("IT", "Facilities", "Ana Pérez")."""
        if self.assignee_user_id is not None:
            return user_label(self.assignee_user)
        if self.assignee_queue_id is not None:
            return self.assignee_queue.name
        if self.assignee_group_id is not None:
            return self.assignee_group.name
        return "nobody"

    @property
    def owner_label(self) -> str:
        return user_label(self.owner) if self.owner_id is not None else ""

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        return self.is_open and self.due_at is not None and self.due_at < timezone.now()
