"""Runtime state of runs. Only the engine (runs/engine/) changes these rows; RunEvent is
append-only."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from orchestrator.models import OrchestrationVersion, Stage, Step


class Run(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    version = models.ForeignKey(OrchestrationVersion, on_delete=models.PROTECT, related_name="runs")
    # Denormalised from version so that dashboard filters and counts need no join.
    # Foreign keys whose own index another index already leads with say db_index=False:
    # every index is one more write for each run, stage run, step run and event.
    orchestration = models.ForeignKey(
        "orchestrator.Orchestration",
        on_delete=models.PROTECT,
        related_name="runs",
        db_index=False,  # run_orch_started
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    outcome = models.CharField(max_length=100, blank=True)
    # The launch inputs and a snapshot of the related record's fields. Step outputs are kept
    # on their step runs; `runs.engine.run_data()` puts the two together for expressions.
    context = models.JSONField(default=dict, blank=True)
    record_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # run_record
    )
    record_id = models.CharField(max_length=64, blank=True)
    record = GenericForeignKey("record_type", "record_id")
    # A short human label for the related record or the run ("Ana Pérez"), kept for lists
    # and search so that they never have to load the record itself.
    title = models.CharField(max_length=200, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="started_runs",
    )
    # The step run of a parent run that launched this one (launch_orchestration action).
    parent_step_run = models.ForeignKey(
        "StepRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        # The operator actions of the run page and the admin; viewing is the built-in view_run.
        permissions = [
            ("retry_step", "Can retry a failed step"),
            ("skip_step", "Can skip a step"),
            ("cancel_run", "Can cancel a run"),
        ]
        indexes = [
            # Dashboard: filter by orchestration and/or status, newest first.
            models.Index(fields=["orchestration", "-started_at"], name="run_orch_started"),
            models.Index(fields=["status", "-started_at"], name="run_status_started"),
            # Related-record lookups and search.
            models.Index(fields=["record_type", "record_id"], name="run_record"),
            # Dashboard: status counts and lists of one orchestration (capped index-only
            # counts per status).
            models.Index(
                fields=["orchestration", "status", "-started_at"], name="run_orch_status_started"
            ),
            # Dashboard charts and usage: runs completed in a period, with what cycle time
            # and usage need, so that they are index-only scans.
            models.Index(
                fields=["finished_at", "orchestration", "started_at"],
                name="run_completed",
                condition=Q(status="completed"),
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.orchestration_id}"

    @property
    def duration(self):
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return end - self.started_at

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.RUNNING


class StageRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(
        Run,
        on_delete=models.CASCADE,
        related_name="stage_runs",
        db_index=False,  # stage_run_iteration_unique
    )
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    iteration = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "stage", "iteration"], name="stage_run_iteration_unique"
            )
        ]
        indexes = [
            # Dashboard: the durations of the stages completed in a period.
            models.Index(
                fields=["finished_at", "stage", "started_at"],
                name="stagerun_completed",
                condition=Q(status="completed"),
            ),
        ]


class StepRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="step_runs")
    stage_run = models.ForeignKey(StageRun, on_delete=models.CASCADE, related_name="step_runs")
    step = models.ForeignKey(
        Step,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # steprun_step_status
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    outputs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    # Background steps: when the queued attempt may run (retry back-off) and when it was
    # last handed to the broker; the sweeper re-dispatches a queued step whose message is lost.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # A wait timer (the `wait` action) or a child run: when the sweeper should fire it.
    timer_due_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [
            # Sweeper: queued steps whose message may be lost.
            models.Index(
                fields=["dispatched_at"], name="steprun_queued", condition=Q(status="queued")
            ),
            # Sweeper: running steps whose worker may have died.
            models.Index(
                fields=["started_at"], name="steprun_running", condition=Q(status="running")
            ),
            # Sweeper: due timers.
            models.Index(
                fields=["timer_due_at"],
                name="steprun_timers",
                condition=Q(status="waiting", timer_due_at__isnull=False),
            ),
            # Dashboard: "failed" filter and the steps where runs wait longest.
            models.Index(fields=["step", "status"], name="steprun_step_status"),
            # Dashboard: the runs with a failed step (a small set, found from this side).
            models.Index(fields=["run"], name="steprun_failed", condition=Q(status="failed")),
            # Dashboard: the steps where runs wait longest, over the step runs started in a
            # period (index-only).
            models.Index(fields=["started_at", "step", "finished_at"], name="steprun_started"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} in run {self.run_id} ({self.status})"


class RunEvent(models.Model):
    """Append-only audit log of a run: what happened, to which step, by whom, when."""

    run = models.ForeignKey(
        Run,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,  # runevent_run
    )
    step_run = models.ForeignKey(
        StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=50)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "id"], name="runevent_run")]

    def __str__(self) -> str:
        return f"{self.kind} in run {self.run_id}"
