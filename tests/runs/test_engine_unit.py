"""The unit of work (runs/engine/unit.py): one transaction from lock to commit, and its fast
path on PostgreSQL (a first statement that carries BEGIN, writes pipelined with the COMMIT,
function arguments bound by name, a timestamp loader on the engine's own cursors only)."""

import datetime
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.checks import run_checks
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from orchestrator.specs import OrchestrationSpec, StageSpec, StepSpec, build
from runs import engine
from runs.engine import sql
from runs.engine.unit import run_transaction
from runs.models import Run, RunEvent, StepRun

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the fast path is not taken on SQLite")


def _waiting_run(user) -> Run:
    """A run waiting for `user` (nothing is sent to a worker)."""
    desk = StepSpec("assign_desk", assignee=user)
    build(OrchestrationSpec("desk", stages=[StageSpec("book", steps=[desk])]))
    return engine.launch("desk")


def _events(run, kind):
    return RunEvent.objects.filter(run=run, kind=kind).count()


# One transaction from lock to commit --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_block_rolls_back_everything(assignee):
    run = _waiting_run(assignee)
    with pytest.raises(Boom), run_transaction(run.pk) as state:
        state.event("test.lost")
        state.set_run(title="changed")
        raise Boom
    assert _events(run, "test.lost") == 0
    assert Run.objects.get(pk=run.pk).title == run.title
    # The connection is as Django left it: autocommit, and the next block is a transaction.
    assert connection.get_autocommit()
    with pytest.raises(Boom), transaction.atomic():
        Group.objects.create(name="rolled back")
        raise Boom
    assert not Group.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_writes_are_committed_on_exit_and_on_commit_callbacks_run_after(assignee):
    run = _waiting_run(assignee)
    seen = []
    with run_transaction(run.pk) as state:
        state.event("test.kept")
        transaction.on_commit(lambda: seen.append(_events(run, "test.kept")))
        assert seen == []
    assert seen == [1]


@pytest.mark.django_db(transaction=True)
def test_the_lock_is_held_until_the_block_ends(assignee):
    run = _waiting_run(assignee)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with run_transaction(run.pk):
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        if connection.vendor == "postgresql":
            with run_transaction(run.pk, skip_locked=True) as state:
                assert state is None
    finally:
        release.set()
        holder.join(timeout=10)
        assert not holder.is_alive(), "deadlock"
    with run_transaction(run.pk, skip_locked=True) as state:
        assert state is not None


@pytest.mark.django_db(transaction=True)
def test_a_commit_that_fails_raises_and_keeps_nothing(assignee):
    run = _waiting_run(assignee)
    with pytest.raises(IntegrityError), run_transaction(run.pk) as state:
        state.event("test.lost")
        # A foreign key that PostgreSQL checks at COMMIT (Django's are deferred).
        state.set_run(orchestration_id=run.orchestration_id + 1000)
    assert _events(run, "test.lost") == 0
    assert Run.objects.get(pk=run.pk).orchestration_id == run.orchestration_id


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_nothing_is_committed_early(assignee):
    run = _waiting_run(assignee)
    with pytest.raises(Boom), transaction.atomic():
        engine.cancel_run(run_id=run.pk, user=None)
        raise Boom
    assert Run.objects.get(pk=run.pk).status == "running"


@pytest.mark.django_db(transaction=True)
def test_a_transaction_managed_by_hand_is_not_committed_early(assignee):
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: on SQLite, Django itself commits an atomic block inside a "
            "transaction managed by hand (transaction_mode IMMEDIATE); the engine adds nothing"
        )
    run = _waiting_run(assignee)
    transaction.set_autocommit(False)
    try:
        engine.cancel_run(run_id=run.pk, user=None)
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert Run.objects.get(pk=run.pk).status == "running"


# The fast path: only inside an engine transaction --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_engine_transaction_begins_with_its_first_statement_and_commits_with_its_writes(
    assignee,
):
    postgresql_only()
    run = _waiting_run(assignee)
    with CaptureQueriesContext(connection) as queries:
        engine.cancel_run(run_id=run.pk, user=None)
    # Django logs its own "BEGIN" when the block starts and "COMMIT" when it ends; between
    # them is what was sent.
    logged = [query["sql"] for query in queries]
    assert logged[0] == "BEGIN" and logged[-1] == "COMMIT"
    sent = logged[1:-1]
    assert sent[0].startswith("BEGIN; SELECT") and "runs_lock_run(p_run_id =>" in sent[0]
    assert sent[-1] == "COMMIT"
    assert Run.objects.get(pk=run.pk).status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_outside_the_engine_transactions_begin_as_django_begins_them(assignee):
    postgresql_only()
    _waiting_run(assignee)  # the engine has run on this connection
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Group.objects.create(name="plain")
    assert [query["sql"][:6] for query in queries] == ["BEGIN", "INSERT", "COMMIT"]
    assert not connection.execute_wrappers
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader.__name__ != "UtcTimestampLoader"


@pytest.mark.django_db(transaction=True)
def test_with_the_fast_path_off_the_engine_sends_plain_django_statements(assignee, settings):
    settings.ENGINE_FAST_PATH = False
    run = _waiting_run(assignee)
    with CaptureQueriesContext(connection) as queries:
        engine.cancel_run(run_id=run.pk, user=None)
    statements = [query["sql"] for query in queries]
    assert not any("runs_lock_run" in sql or sql.startswith("BEGIN;") for sql in statements)
    assert "FOR UPDATE" in statements[1] or connection.vendor != "postgresql"
    assert statements.count("COMMIT") == 1  # Django's own
    assert Run.objects.get(pk=run.pk).status == "cancelled"


def test_function_arguments_are_bound_by_name():
    rows = sql.FunctionRows("runs_lock_run", ("run_id", "skip_locked"), (("run_row", Run),))
    with pytest.raises(TypeError, match="runs_lock_run\\(\\) takes run_id, skip_locked"):
        rows.fetch(connection, run_id=1)


def test_the_engines_timestamps_load_as_aware_utc_datetimes():
    postgresql_only()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        sql._read_timestamps_fast(connection, cursor)
        cursor.execute(
            "SELECT '2026-06-01 10:00:00.5+00'::timestamptz, '2026-06-01 10:00:00+00'::timestamptz,"
            " '0001-01-01 00:00:00+00'::timestamptz, '2026-06-01 12:00:00+02'::timestamptz"
        )
        fraction, whole, first, other_zone = cursor.fetchone()
        assert cursor.cursor.adapters.get_loader(1184, 0).__name__ == "UtcTimestampLoader"
    utc = datetime.UTC
    assert fraction == datetime.datetime(2026, 6, 1, 10, 0, 0, 500000, tzinfo=utc)
    assert whole == datetime.datetime(2026, 6, 1, 10, tzinfo=utc)
    assert first == datetime.datetime(1, 1, 1, tzinfo=utc)
    assert other_zone == whole
    assert {value.tzinfo for value in (fraction, whole, first, other_zone)} == {utc}


def test_new_sets_the_same_fields_as_the_models_own_init(assignee):
    run = Run(pk=41, version_id=3, orchestration_id=2, started_at=None)
    step_run = StepRun(pk=None)
    made = sql.new(RunEvent, run=run, step_run=step_run, kind="x", actor=assignee, data={})
    usual = RunEvent(run=run, step_run=step_run, kind="x", actor=assignee, data={})

    assert {k: v for k, v in made.__dict__.items() if k != "_state"} == {
        k: v for k, v in usual.__dict__.items() if k != "_state"
    }
    assert made._state.adding and made._state.db is None
    # Related objects are cached as the ORM caches them: no query to read them back.
    assert made.run is run and made.step_run is step_run and made.actor is assignee
    # Defaults come fresh for each object (a JSONField's dict is not shared).
    assert sql.new(RunEvent).data is not sql.new(RunEvent).data


def test_a_system_check_warns_of_versions_the_fast_path_was_not_written_for(monkeypatch, settings):
    postgresql_only()
    import django

    assert not [m for m in run_checks() if m.id == "runs.W001"]
    monkeypatch.setattr(django, "__version__", "6.1.0")
    warnings = [m for m in run_checks() if m.id == "runs.W001"]
    assert len(warnings) == 1 and "Django 5.2" in warnings[0].msg and "6.1.0" in warnings[0].msg
    settings.ENGINE_FAST_PATH = False
    assert not [m for m in run_checks() if m.id == "runs.W001"]
