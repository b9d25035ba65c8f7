"""The sweeper: the database, not the broker, is the source of truth.

Each function works in batches, takes what it acts on with `skip_locked`, logs and skips a
broken run, returns a count, and is safe to run from several sweepers at once. Celery beat
calls `sweep()` every SWEEP_INTERVAL_SECONDS.
"""

import datetime
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orchestrator.plan import load_plan
from runs import engine
from runs.kinds import dispatch
from runs.models import Run, StepRun

logger = logging.getLogger(__name__)

BATCH = 200
DEFAULT_STEP_TIMEOUT = datetime.timedelta(minutes=10)


def _lost_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "SWEEP_LOST_AFTER_SECONDS", 30))


def redispatch_lost_steps() -> int:
    """Queued step runs whose message should have been taken by now (the broker lost it, or
    it was never sent) are dispatched again: sent more than SWEEP_LOST_AFTER_SECONDS ago,
    and, for a retry, due (`next_attempt_at`) more than that long ago. A duplicate message
    is harmless: only one can take the attempt, and none before it is due."""
    cutoff = timezone.now() - _lost_after()
    count = 0
    with transaction.atomic():
        lost = list(
            StepRun.objects.select_for_update(skip_locked=True)
            .filter(status=StepRun.Status.QUEUED)
            .filter(Q(dispatched_at__lt=cutoff) | Q(dispatched_at__isnull=True))
            .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True))
            .order_by("dispatched_at")[:BATCH]
        )
        now = timezone.now()
        for step_run in lost:
            step_run.dispatched_at = now
            step_run.save(update_fields=["dispatched_at"])
            dispatch(step_run)
            engine.record_event(
                run_id=step_run.run_id,
                step_run_id=step_run.pk,
                kind="step.redispatched",
                attempt=step_run.attempts + 1,
            )
            count += 1
    if count:
        logger.info("re-dispatched %d queued step runs", count)
    return count


def time_out_dead_steps() -> int:
    """Running step runs older than their step's timeout (10 minutes by default): the worker
    died or hung. The attempt counts as failed and is retried within the step's limit."""
    now = timezone.now()
    count = 0
    candidates = (
        StepRun.objects.filter(status=StepRun.Status.RUNNING, started_at__lt=now - _min_timeout())
        .select_related("run")
        .order_by("started_at")[:BATCH]
    )
    for step_run in candidates:
        try:
            step = load_plan(step_run.run.version_id).steps[step_run.step_id]
            timeout = step.timeout or DEFAULT_STEP_TIMEOUT
            if step_run.started_at > now - timeout:
                continue
            seconds = int(timeout.total_seconds())
            if engine.time_out_attempt(
                run_id=step_run.run_id,
                step_run_id=step_run.pk,
                attempt=step_run.attempts,
                error=f"The worker running this step gave no result within {seconds} seconds.",
            ):
                count += 1
        except Exception:
            logger.exception("could not time out step run %s", step_run.pk)
    return count


def _min_timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, "SWEEP_MIN_STEP_TIMEOUT_SECONDS", 1))


def fire_due_timers() -> int:
    """Waiting step runs whose timer is due (the `wait` action) are completed."""
    count = 0
    due = StepRun.objects.filter(
        status=StepRun.Status.WAITING, timer_due_at__lte=timezone.now()
    ).values_list("run_id", "pk")[:BATCH]
    for run_id, step_run_id in list(due):
        try:
            if engine.fire_timer(run_id=run_id, step_run_id=step_run_id):
                count += 1
        except Exception:
            logger.exception("could not fire the timer of step run %s", step_run_id)
    return count


def resume_waiting_parents() -> int:
    """Parents still waiting for a child run that has finished (the child's commit hook was
    lost with its process) are resumed."""
    count = 0
    waiting = (
        Run.objects.filter(
            parent_step_run__status=StepRun.Status.WAITING,
            status__in=[Run.Status.COMPLETED, Run.Status.FAILED, Run.Status.CANCELLED],
        )
        .values_list("parent_step_run_id", flat=True)
        .distinct()[:BATCH]
    )
    for step_run_id in list(waiting):
        try:
            engine.resume_parent(step_run_id=step_run_id)
            count += 1
        except Exception:
            logger.exception("could not resume the parent step run %s", step_run_id)
    return count


_more: dict[str, Callable[[], int]] = {}


def register_sweep(name: str, function: Callable[[], int]) -> None:
    """Add a part to the sweep, from another app's ready() (the outbox re-sends lost
    messages): a function that returns a count, safe to run from several sweepers at once."""
    _more[name] = function


def sweep() -> dict[str, int]:
    counts = {
        "redispatched": redispatch_lost_steps(),
        "timed_out": time_out_dead_steps(),
        "timers_fired": fire_due_timers(),
        "parents_resumed": resume_waiting_parents(),
    }
    for name, function in _more.items():
        try:
            counts[name] = function()
        except Exception:
            logger.exception("the sweep's %s failed", name)
            counts[name] = 0
    # Every few seconds: a sweep that found nothing is not news.
    logger.log(logging.INFO if any(counts.values()) else logging.DEBUG, "sweep: %s", counts)
    return counts
