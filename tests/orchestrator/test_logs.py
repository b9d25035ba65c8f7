"""What make run's terminal shows: the tasks beat sends every few seconds log at DEBUG when
LOG_SCHEDULED_TASKS is off; every other task, and every failure, still logs as Celery does."""

import logging

from orchestrator.logs import ScheduledTasksAtDebug


def _record(logger: str, level: int, msg: str, args=(), data=None) -> logging.LogRecord:
    record = logging.LogRecord(logger, level, __file__, 1, msg, args, None)
    if data is not None:
        record.data = data
    return record


def test_the_sweep_succeeding_is_not_shown_at_info(caplog):
    caplog.set_level(logging.INFO, logger="celery.app.trace")
    record = _record(
        "celery.app.trace",
        logging.INFO,
        "Task %(name)s[%(id)s] succeeded",
        data={"name": "runs.tasks.sweep"},
    )

    assert not ScheduledTasksAtDebug().filter(record)


def test_beat_sending_the_sweep_is_shown_at_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="celery.beat")
    record = _record(
        "celery.beat",
        logging.INFO,
        "Scheduler: Sending due task %s (%s)",
        ("sweep", "runs.tasks.sweep"),
    )

    assert ScheduledTasksAtDebug().filter(record)
    assert record.levelname == "DEBUG"


def test_a_step_task_and_a_failing_sweep_are_still_shown(caplog):
    caplog.set_level(logging.INFO, logger="celery.app.trace")
    step = _record(
        "celery.app.trace",
        logging.INFO,
        "Task %(name)s succeeded",
        data={"name": "runs.tasks.execute_step"},
    )
    failed_sweep = _record(
        "celery.app.trace", logging.ERROR, "Task %(name)s raised", data={"name": "runs.tasks.sweep"}
    )

    assert ScheduledTasksAtDebug().filter(step)
    assert ScheduledTasksAtDebug().filter(failed_sweep)
    assert (step.levelname, failed_sweep.levelname) == ("INFO", "ERROR")
