"""The sweeper runs every few seconds: it logs at INFO only when it found work."""

import logging

import pytest

from runs import sweeper


@pytest.mark.django_db
def test_a_sweep_that_found_nothing_logs_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="runs.sweeper"):
        counts = sweeper.sweep()

    assert not any(counts.values())
    assert [record.levelname for record in caplog.records] == ["DEBUG"]


@pytest.mark.django_db
def test_a_sweep_that_found_work_logs_at_info(caplog, monkeypatch):
    monkeypatch.setattr(sweeper, "fire_due_timers", lambda: 2)
    with caplog.at_level(logging.DEBUG, logger="runs.sweeper"):
        sweeper.sweep()

    (record,) = caplog.records
    assert record.levelname == "INFO"
    assert "'timers_fired': 2" in record.getMessage()
