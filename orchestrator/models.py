"""Orchestration definitions: what a process is made of, as designed in the admin.

A version that is active or retired is read-only: every definition row below refuses to be
saved or deleted unless its version is a draft (the model layer enforces it, not only the
admin). "New draft from this version" is `OrchestrationVersion.new_draft()`.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q


class VersionLocked(ValidationError):
    """Raised when something tries to change an active or retired version."""


class Queue(models.Model):
    """A named pool of users; one member claims an item, then owns it."""

    key = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="work_queues", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Orchestration(models.Model):
    key = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Who may start a run from /start/: members of these groups; staff holding the
    # "start any orchestration" permission may start every one.
    starter_groups = models.ManyToManyField(Group, blank=True, related_name="+")

    class Meta:
        ordering = ["name"]
        permissions = [("start_any_orchestration", "Can start any orchestration")]

    def __str__(self) -> str:
        return self.name

    @property
    def active_version(self) -> "OrchestrationVersion | None":
        return self.versions.filter(status=OrchestrationVersion.Status.ACTIVE).first()


class OrchestrationVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    orchestration = models.ForeignKey(
        Orchestration, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["orchestration__name", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["orchestration", "number"], name="version_number_unique"
            ),
            # Launches pick "the" active version: there can be only one.
            models.UniqueConstraint(
                fields=["orchestration"],
                condition=Q(status="active"),
                name="one_active_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.orchestration.name} v{self.number} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def save(self, *args, **kwargs):
        if self.pk and not self._state.adding:
            stored = (
                OrchestrationVersion.objects.filter(pk=self.pk)
                .values("status", "number", "orchestration_id", "notes")
                .first()
            )
            if stored and stored["status"] != self.Status.DRAFT:
                changed = (
                    stored["number"] != self.number
                    or stored["orchestration_id"] != self.orchestration_id
                    or stored["notes"] != self.notes
                )
                allowed = stored["status"] == self.status or (
                    stored["status"] == self.Status.ACTIVE and self.status == self.Status.RETIRED
                )
                if changed or not allowed:
                    raise VersionLocked(
                        f"Version {stored['number']} is {stored['status']} and cannot be "
                        "changed. Make a new draft from it instead."
                    )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status != self.Status.DRAFT:
            raise VersionLocked(
                f"Version {self.number} is {self.status} and cannot be deleted; retire it instead."
            )
        return super().delete(*args, **kwargs)

    def new_draft(self) -> "OrchestrationVersion":
        """Copy this version's whole tree (stages, routes, steps, screen flows) into a draft."""
        from orchestrator.copying import copy_version

        return copy_version(self)

    def activate(self) -> None:
        """Validate the version; if valid, make it the active one and retire the previous."""
        from django.utils import timezone

        from orchestrator.validation import validate_version

        problems = validate_version(self)
        if problems:
            raise ValidationError(problems)
        with transaction.atomic():
            for previous in OrchestrationVersion.objects.select_for_update().filter(
                orchestration=self.orchestration, status=self.Status.ACTIVE
            ):
                previous.status = self.Status.RETIRED
                previous.save(update_fields=["status"])
            self.status = self.Status.ACTIVE
            self.activated_at = timezone.now()
            self.save(update_fields=["status", "activated_at"])


class VersionPart(models.Model):
    """A definition row that belongs to a version and is frozen with it."""

    class Meta:
        abstract = True

    def get_version(self) -> OrchestrationVersion:
        raise NotImplementedError

    def _check_editable(self) -> None:
        version = self.get_version()
        if version is not None and version.pk:
            status = (
                OrchestrationVersion.objects.filter(pk=version.pk)
                .values_list("status", flat=True)
                .first()
            )
            if status and status != OrchestrationVersion.Status.DRAFT:
                raise VersionLocked(
                    f"Version {version.number} of {version.orchestration} is {status} and "
                    "cannot be changed. Make a new draft from it instead."
                )

    def save(self, *args, **kwargs):
        self._check_editable()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check_editable()
        return super().delete(*args, **kwargs)


class ScreenFlow(VersionPart):
    """A form of one or more screens that an interactive step shows to its assignee."""

    version = models.ForeignKey(
        OrchestrationVersion, on_delete=models.CASCADE, related_name="screen_flows"
    )
    key = models.SlugField()
    label = models.CharField(max_length=200)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="screen_flow_key_unique")
        ]

    def __str__(self) -> str:
        return self.label

    def get_version(self):
        return self.version


class Screen(VersionPart):
    flow = models.ForeignKey(ScreenFlow, on_delete=models.CASCADE, related_name="screens")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    help_text = models.TextField(blank=True)

    class Meta:
        ordering = ["flow", "position", "id"]

    def __str__(self) -> str:
        return self.title

    def get_version(self):
        return self.flow.version if self.flow_id else None


class Field(VersionPart):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        LONG_TEXT = "long_text", "Long text"
        INTEGER = "integer", "Whole number"
        DECIMAL = "decimal", "Decimal number"
        DATE = "date", "Date"
        DATETIME = "datetime", "Date and time"
        YES_NO = "yes_no", "Yes / no"
        CHOICE = "choice", "Choice"
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
        EMAIL = "email", "Email"
        URL = "url", "Web address"
        USER = "user", "Person"
        DECISION = "decision", "Decision"

    screen = models.ForeignKey(Screen, on_delete=models.CASCADE, related_name="fields")
    position = models.PositiveIntegerField(default=0)
    key = models.SlugField(help_text="The name the answer is stored under in the run data.")
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(default=True)
    help_text = models.CharField(max_length=500, blank=True)
    # For choice, multiple choice and decision: a list of {"value": ..., "label": ...}.
    choices = models.JSONField(default=list, blank=True)
    # A CEL expression over the run data whose value pre-fills the field.
    default = models.CharField(max_length=500, blank=True)
    # For a person field: only members of this group may be picked.
    limit_to_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A confidential answer is shown only to the step that asks it, to the steps named here
    # and to operators who may view runs; expressions (routes, conditions) still read it.
    confidential = models.BooleanField(
        default=False,
        help_text="Show the answer only to the steps below and to operators who view runs.",
    )
    visible_to_steps = models.ManyToManyField(
        "Step",
        blank=True,
        related_name="+",
        help_text="Steps (of this version) whose people see a confidential answer.",
    )
    # For a decimal field: the answer's digits in all and after the point (as a model's
    # DecimalField has them), so that a number the run data cannot hold is a field error.
    max_digits = models.PositiveSmallIntegerField(
        default=18, help_text="For a decimal number: how many digits in all."
    )
    decimal_places = models.PositiveSmallIntegerField(
        default=2, help_text="For a decimal number: how many of the digits after the point."
    )
    # For a whole or decimal number: the smallest and largest answer accepted.
    min_value = models.DecimalField(
        max_digits=30,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="For a number: the smallest answer accepted. Empty: no lower bound.",
    )
    max_value = models.DecimalField(
        max_digits=30,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="For a number: the largest answer accepted. Empty: no upper bound.",
    )

    class Meta:
        ordering = ["screen", "position", "id"]

    def __str__(self) -> str:
        return self.label

    def get_version(self):
        return self.screen.flow.version if self.screen_id else None

    @property
    def choice_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for choice in self.choices or []:
            if isinstance(choice, dict):
                pairs.append((str(choice.get("value")), str(choice.get("label", choice["value"]))))
            else:
                pairs.append((str(choice), str(choice)))
        return pairs


class Stage(VersionPart):
    version = models.ForeignKey(
        OrchestrationVersion, on_delete=models.CASCADE, related_name="stages"
    )
    position = models.PositiveIntegerField(default=0)
    key = models.SlugField()
    label = models.CharField(max_length=200)
    entry_condition = models.TextField(
        blank=True, help_text="CEL; when false the stage is skipped. Empty: always entered."
    )
    exit_condition = models.TextField(
        blank=True,
        help_text="CEL; when true the stage completes at once and its open steps are cancelled.",
    )

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="stage_key_unique")]

    def __str__(self) -> str:
        return self.label

    def get_version(self):
        return self.version


class StageRoute(VersionPart):
    """After its stage completes, the first route whose condition holds says what comes next."""

    class Action(models.TextChoices):
        GO_TO = "go_to", "Go to stage"
        END = "end", "End the run"

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="routes")
    position = models.PositiveIntegerField(default=0)
    condition = models.TextField(blank=True, help_text="CEL; empty means always.")
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.GO_TO)
    target_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    max_repeats = models.PositiveIntegerField(
        default=3, help_text="For a route back to an earlier stage: how often it may be taken."
    )
    outcome = models.CharField(
        max_length=100, blank=True, help_text='For "end the run": the outcome, e.g. "rejected".'
    )

    class Meta:
        ordering = ["stage", "position", "id"]

    def __str__(self) -> str:
        if self.action == self.Action.END:
            return f"end ({self.outcome or 'completed'})"
        return f"go to {self.target_stage}"

    def get_version(self):
        return self.stage.version if self.stage_id else None


class Step(VersionPart):
    class Kind(models.TextChoices):
        INTERACTIVE = "interactive", "Interactive (a person fills in a screen flow)"
        BACKGROUND = "background", "Background (an action runs on a worker)"

    class AssigneeType(models.TextChoices):
        USER = "user", "A user"
        QUEUE = "queue", "A queue (one member claims it)"
        GROUP = "group", "A group (any member may complete it)"
        STARTER = "starter", "The person who started the run"
        EXPRESSION = "expression", "Computed from the run data (CEL)"

    version = models.ForeignKey(
        OrchestrationVersion, on_delete=models.CASCADE, related_name="steps"
    )
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    key = models.SlugField(help_text="Unique in the version; later steps read outputs by it.")
    label = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INTERACTIVE)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents"
    )
    entry_condition = models.TextField(
        blank=True, help_text="CEL; when false at the time the step is ready, it is skipped."
    )

    # Interactive steps. RESTRICT, not PROTECT: a screen flow in use cannot be deleted on
    # its own, but a draft version can be deleted with its whole tree.
    screen_flow = models.ForeignKey(
        ScreenFlow, null=True, blank=True, on_delete=models.RESTRICT, related_name="steps"
    )
    assignee_type = models.CharField(
        max_length=20, choices=AssigneeType.choices, blank=True, default=""
    )
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee_expression = models.TextField(
        blank=True, help_text="CEL giving a username or user id, e.g. new_hire_form.manager"
    )
    instructions = models.TextField(
        blank=True, help_text="A Django template over the run data, shown above the form."
    )
    allow_reassign = models.BooleanField(default=True)
    # Separation of duties: who must not complete this step (checked when its work item is
    # assigned, claimed, reassigned and completed).
    exclude_starter = models.BooleanField(
        default=False, help_text="The person who started the run may not complete this step."
    )
    exclude_completers_of = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="+",
        help_text="Whoever completed one of these earlier steps may not complete this one.",
    )
    due_in = models.DurationField(null=True, blank=True)
    remind_every = models.DurationField(null=True, blank=True)
    escalate_after = models.DurationField(null=True, blank=True)
    escalate_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # When this step completes, create a record of this model from its answers (fields
    # matched by name) and relate it to the run: how a project attaches its own models.
    creates_record = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Create a record of this model from the answers and relate it to the run.",
    )

    # Background steps.
    action = models.CharField(max_length=100, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    max_retries = models.PositiveIntegerField(default=3)
    retry_backoff_seconds = models.FloatField(
        default=2.0, help_text="The first retry waits this long; each next one twice as long."
    )
    timeout = models.DurationField(
        null=True, blank=True, help_text="A running attempt older than this is considered lost."
    )

    class Meta:
        ordering = ["version", "stage__position", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="step_key_unique")]

    def __str__(self) -> str:
        return self.label

    def get_version(self):
        return self.version
