"""What the logs show: with LOG_SCHEDULED_TASKS off (make run), the tasks Celery beat sends
every few seconds log at DEBUG, not INFO.

Celery logs every task at INFO as beat sends it ("Sending due task"), as a worker receives it
and as it succeeds. For a step's task those lines are worth reading; for the sweep, which beat
sends every SWEEP_INTERVAL_SECONDS, they bury everything else in a terminal. The sweeper logs
at INFO itself when it found work.
"""

import logging

from django.conf import settings

_SENDING_DUE_TASK = "Scheduler: Sending due task"


class ScheduledTasksAtDebug(logging.Filter):
    """Lowers the INFO lines about the tasks in CELERY_BEAT_SCHEDULE to DEBUG. Attached to the
    loggers `celery.beat`, `celery.worker.strategy` and `celery.app.trace` (see LOGGING)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or _task_name(record) not in _scheduled_tasks():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _task_name(record: logging.LogRecord) -> str | None:
    data = getattr(record, "data", None)  # the worker's "received" and "succeeded" lines
    if isinstance(data, dict):
        return data.get("name")
    if str(record.msg).startswith(_SENDING_DUE_TASK) and len(record.args or ()) == 2:
        return record.args[1]  # beat: (entry name, task name)
    return None


def _scheduled_tasks() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
