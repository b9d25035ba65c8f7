"""runs/rows.py: new rows without Model.__init__, and transactions that save round trips (the
first statement carries BEGIN, the last writes carry COMMIT) and still are transactions."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine, rows
from runs.models import Run, RunEvent, StepRun


@pytest.mark.django_db
def test_new_sets_the_same_fields_as_the_models_own_init(assignee):
    run = Run(pk=41, version_id=3, orchestration_id=2, started_at=None)
    step_run = StepRun(pk=None)
    made = rows.new(RunEvent, run=run, step_run=step_run, kind="x", actor=assignee, data={})
    usual = RunEvent(run=run, step_run=step_run, kind="x", actor=assignee, data={})

    assert {k: v for k, v in made.__dict__.items() if k != "_state"} == {
        k: v for k, v in usual.__dict__.items() if k != "_state"
    }
    assert made._state.adding and made._state.db is None
    # Related objects are cached as the ORM caches them: no query to read them back.
    assert made.run is run and made.step_run is step_run and made.actor is assignee
    # Defaults come fresh for each object (a JSONField's dict is not shared).
    assert rows.new(RunEvent).data is not rows.new(RunEvent).data


def test_new_refuses_a_field_the_model_does_not_have():
    with pytest.raises(TypeError):
        rows.new(RunEvent, colour="blue")


def _flow(user) -> Run:
    """A run waiting for `user` (nothing is sent to a worker)."""
    assign_desk = StepSpec("assign_desk", assignee=user)
    build(OrchestrationSpec("desk", stages=[StageSpec("book", steps=[assign_desk])]))
    return engine.launch("desk")


class Boom(Exception):
    pass


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: elsewhere statements go one by one")


@pytest.mark.django_db(transaction=True)
def test_a_statement_that_carries_begin_is_rolled_back_with_its_block(assignee):
    postgresql_only()
    run = _flow(assignee)
    with pytest.raises(Boom), transaction.atomic():
        # The first statement of the block: it carries the BEGIN.
        rows.insert([rows.new(RunEvent, run=run, kind="test.first", created_at=run.started_at)])
        assert connection.connection.info.transaction_status != 0  # 0: IDLE
        raise Boom
    assert not RunEvent.objects.filter(kind="test.first").exists()
    # The connection is as Django left it: the next block begins a transaction as usual.
    with pytest.raises(Boom), transaction.atomic():
        RunEvent.objects.create(run=run, kind="test.second", created_at=run.started_at)
        raise Boom
    assert not RunEvent.objects.filter(kind="test.second").exists()
    assert connection.get_autocommit() and connection.connection.autocommit


@pytest.mark.django_db(transaction=True)
def test_the_lock_taken_with_begin_is_held_until_the_block_ends(assignee):
    postgresql_only()
    run = _flow(assignee)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                engine._RunState.lock(run.pk)  # the block's first statement: BEGIN and lock
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with transaction.atomic():
            assert engine._RunState.lock(run.pk, skip_locked=True) is None
    finally:
        release.set()
        holder.join(timeout=10)
    with transaction.atomic():
        assert engine._RunState.lock(run.pk, skip_locked=True) is not None


@pytest.mark.django_db(transaction=True)
def test_commit_sent_with_the_writes_commits_them_and_runs_on_commit_callbacks(assignee):
    postgresql_only()
    run = _flow(assignee)
    called = []
    with transaction.atomic():
        transaction.on_commit(lambda: called.append(True))
        with rows.pipeline():
            rows.insert([rows.new(RunEvent, run=run, kind="test.kept", created_at=run.started_at)])
            assert rows.commit_in_pipeline()
    assert called == [True]
    assert RunEvent.objects.filter(kind="test.kept").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_commit_that_fails_raises_and_keeps_nothing(assignee):
    run = _flow(assignee)
    lost = rows.new(RunEvent, run=run, kind="test.lost", created_at=run.started_at)
    # A foreign key that PostgreSQL checks at COMMIT (Django's are deferred).
    bad = rows.new(RunEvent, run_id=run.pk + 1000, kind="test.bad", created_at=run.started_at)
    with pytest.raises(IntegrityError), transaction.atomic(), rows.pipeline():
        rows.insert([lost], keys=False)
        rows.insert([bad], keys=False)
        rows.commit_in_pipeline()
    assert not RunEvent.objects.filter(kind__startswith="test.").exists()
    assert Run.objects.filter(pk=run.pk).exists()  # the connection still works


@pytest.mark.django_db
def test_inside_an_outer_transaction_nothing_is_committed_early():
    # pytest-django's own transaction wraps this test: the engine's block is a savepoint.
    with transaction.atomic(), rows.pipeline():
        assert not rows.commit_in_pipeline()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_managed_by_hand_is_not_committed_early():
    transaction.set_autocommit(False)
    try:
        with transaction.atomic(), rows.pipeline():
            assert not rows.commit_in_pipeline()
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)


@pytest.mark.django_db(transaction=True)
def test_a_pipeline_inside_another_leaves_the_outer_one_whole(assignee):
    postgresql_only()
    run = _flow(assignee)
    with transaction.atomic(), rows.pipeline():
        with rows.pipeline():
            rows.insert([rows.new(RunEvent, run=run, kind="test.inner", created_at=run.started_at)])
        rows.insert(
            [rows.new(RunEvent, run=run, kind="test.outer", created_at=run.started_at)],
            keys=False,
        )
        assert rows.commit_in_pipeline()
    assert RunEvent.objects.filter(kind__startswith="test.").count() == 2
