"""What the engine refuses, as exceptions whose str() is a sentence for a business user."""

from django.core.exceptions import ValidationError

from orchestrator.dates import said_when
from runs.answers import person_label
from runs.models import Run, StepRun

S = StepRun.Status


class EngineError(Exception):
    """A request the engine refuses; str() is a sentence for a business user."""


class RunNotFound(EngineError):
    def __init__(self):
        super().__init__("This run no longer exists.")


class StepNotFound(EngineError):
    def __init__(self):
        super().__init__("This step no longer exists.")


class OrchestrationNotFound(EngineError):
    pass


class RunNotActive(EngineError):
    def __init__(self, run: Run):
        self.run = run
        when = said_when(run.finished_at)
        super().__init__(f"This run was already {run.get_status_display().lower()} {when}.")


class StepNotWaiting(EngineError):
    """The step is not waiting for anyone: someone got there first, or it was stopped."""

    def __init__(self, step_run: StepRun, who: str | None = None):
        self.step_run = step_run
        when = said_when(step_run.finished_at)
        status = step_run.status
        if status == S.COMPLETED:
            message = f"Already completed by {who or 'someone else'} {when}."
        elif status == S.SKIPPED:
            message = f"This step was skipped {when}."
        elif status == S.CANCELLED:
            message = f"This step was cancelled {when}."
        elif status == S.FAILED:
            message = "This step has failed; an operator must retry or skip it."
        else:
            message = "This step is not waiting for an answer right now."
        super().__init__(message)


class StepNotRetryable(EngineError):
    pass


class RunNotRetryable(EngineError):
    """The run is not stopped where a retry of the run can take it up."""


class AnswersNotCorrectable(EngineError):
    """These answers cannot be corrected now (the run is not stopped, or the step did not
    give the answers the run reads)."""


class AnswersInvalid(EngineError):
    """The corrected answers do not pass the step's form; `form` has the errors by field
    and what was typed, to show again."""

    def __init__(self, form):
        self.form = form
        super().__init__("Please check the corrected answers: nothing was changed.")


class CompletionRefused(EngineError):
    """The step's kind refused the person (e.g. the work item was reassigned meanwhile)."""


class RecordRefused(EngineError):
    """The record the step creates refuses the answers (its model's own validation); the
    screen flow checks them first, so this is for callers that do not."""

    def __init__(self, model, error: ValidationError):
        self.errors = error.message_dict
        fields = {field.name: field for field in model._meta.fields}
        problems = [
            f"{fields[key].verbose_name}: {message}" if key in fields else message
            for key, messages in self.errors.items()
            for message in messages
        ]
        super().__init__(
            f"The answers do not fit the new {model._meta.verbose_name}: {' '.join(problems)}"
        )


def completed_by_label(step_run: StepRun) -> str | None:
    """Who completed the step run, for "Already completed by Ana at 10:42"."""
    if step_run.completed_by_id is None:
        return None
    return person_label(step_run.completed_by)
