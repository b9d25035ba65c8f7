"""`manage.py bench`: drive employee-onboarding runs to completion and measure the engine.

It lives in the demo app because it composes everything (engine, work items, the demo).

Every interactive step is claimed (when it waits in a queue) and completed through the same
service functions the web views call, as its assignee; background steps run through the
same task tracer and body a worker runs, in this process as soon as they are sent, so the
figures measure the engine and the database, not the broker. The fake payroll API is served
by a separate process.
"""

import contextlib
import functools
import logging
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from celery.app.trace import build_tracer
from celery.utils import uuid
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from notifications import delivery
from notifications.models import Notification
from notifications.tasks import deliver
from orchestrator.models import Queue, Step
from runs import engine
from runs.models import Run
from runs.tasks import execute_step
from workitems import services
from workitems.models import WorkItem

ANSWERS = {
    "new_hire_form": lambda n, users: {
        "full_name": f"Bench Hire {n}",
        "email": f"hire{n}@example.com",
        "start_date": "2027-01-04",
        "department": "Engineering",
        "job_title": "Engineer",
        "manager": users["manager"].pk,
        "annual_salary": 85000.0,
    },
    "provision_it": lambda n, users: {
        "laptop_model": "ThinkPad X1 Carbon",
        "accounts_created": True,
        "asset_tag": f"A-{n:05d}",
    },
    "assign_desk": lambda n, users: {"building": "North", "desk_number": f"N-{n}"},
    "manager_approval": lambda n, users: {"decision": "approve", "comment": ""},
}
WHO = {
    "new_hire_form": "hr",
    "provision_it": "it",
    "assign_desk": "facilities",
    "manager_approval": "manager",
}


def _open_items(run_id: int) -> list[WorkItem]:
    """The open items of a run, as the inbox would list them. Plain SQL, built once, so that
    finding the items costs the harness no query building: the figures are the engine's."""
    names, sql = _open_items_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [run_id, WorkItem.Status.OPEN])
        return [WorkItem.from_db("default", names, row) for row in cursor.fetchall()]


@functools.cache
def _open_items_sql() -> tuple[list[str], str]:
    fields = WorkItem._meta.concrete_fields
    columns = ", ".join(f'"{field.column}"' for field in fields)
    table = WorkItem._meta.db_table
    sql = f'SELECT {columns} FROM "{table}" WHERE run_id = %s AND status = %s ORDER BY id'
    return [field.attname for field in fields], sql


def _backend_cpu_seconds() -> float | None:
    """The CPU seconds the PostgreSQL backend of this connection has used, or None when the
    server is not on this machine: unlike wall time, CPU time hardly moves with the machine's
    other load, so it tells which side of the connection a change made slower."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        # /proc/PID/stat: fields 14 and 15 (after the command name) are user and system ticks.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _InlineWorker:
    """Runs each task the engine sends at once, in this process, through the tracer a Celery
    worker runs for each message it receives (celery.app.trace: the task's signals and request
    context, then its body), built once as a worker builds it. Celery's eager mode would run
    the same tracer with more around it for each call (a producer from the pool, a new tracer,
    a serialised copy of the arguments): Celery's cost, not the engine's."""

    def __init__(self, task):
        self._task = task
        self._trace = build_tracer(task.name, task, app=task.app, propagate=True)

    def apply_async(self, args=(), kwargs=None, **options):
        task_id = uuid()
        request = {"id": task_id, "task": self._task.name, "hostname": "bench"}
        self._trace(task_id, list(args), kwargs or {}, request)

    @contextlib.contextmanager
    def installed(self):
        """The task's apply_async() runs it here, until the block ends."""
        self._task.apply_async = self.apply_async
        try:
            yield
        finally:
            del self._task.apply_async


class _HeldMessages:
    """Holds the outbox's requests to a worker (one per transition that writes rows) while the
    runs are measured, so that the figures are the engine's, not the broker's nor the mail's;
    `send()` delivers the rows afterwards, in this process."""

    def __init__(self):
        self.keys: list[str] = []

    def apply_async(self, args=(), kwargs=None, **options):
        self.keys += args[0]

    @contextlib.contextmanager
    def installed(self):
        deliver.apply_async = self.apply_async
        try:
            yield self
        finally:
            del deliver.apply_async

    def send(self) -> None:
        keys, self.keys = self.keys, []
        delivery.deliver(keys)


class _PayrollServer:
    """The demo's fake payroll API served by gunicorn in a separate process."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/demo/payroll/employees/"
        env = {
            **os.environ,
            "CONN_MAX_AGE": "600",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # Production settings otherwise, over plain http on this machine, with the demo
            # mounted and the token this process sends.
            "SECURE_SSL_REDIRECT": "false",
            "DEMO_ENABLED": "true",
            "PAYROLL_API_TOKEN": settings.PAYROLL_API_TOKEN,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "orchestrator.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                # Threads keep connections alive between calls, as a real API's server would.
                "--worker-class",
                "gthread",
                "--threads",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=settings.BASE_DIR,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise CommandError("The fake payroll API did not start.")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# The engine's PostgreSQL functions (runs/migrations/0004 and 0006): one statement from the
# client, two inside (lock or update, then read); runs_take_attempt writes.
_FUNCTION = re.compile(r"\bFROM (runs_lock_run|runs_take_attempt)\(")
_WRITING_FUNCTIONS = {"runs_take_attempt"}
_BEGIN = re.compile(r"^\s*BEGIN\b[^;]*;")


def _classify(sql: str) -> tuple[str, bool]:
    """A statement's kind (SELECT, INSERT, ..., FUNCTION) and whether it writes."""
    # An engine transaction's first statement may carry its BEGIN (runs/engine/begin.py).
    kind = _BEGIN.sub("", sql).lstrip().split(None, 1)[0].upper()
    function = _FUNCTION.search(sql)
    if function:
        return "FUNCTION", function.group(1) in _WRITING_FUNCTIONS
    return kind, kind in ("INSERT", "UPDATE", "DELETE")


class _Meter:
    """Counts SQL statements by kind and commits on the default connection."""

    def __init__(self):
        self.statements: Counter[str] = Counter()
        self.commits = 0
        self.on = False
        # The engine's SQL is built once per process: classify each text once, so that the
        # counting costs the runs little.
        self._kinds: dict[str, tuple[str, bool]] = {}

    def __call__(self, execute, sql, params, many, context):
        if self.on and sql != "COMMIT":  # a COMMIT sent with the writes: counted in commit()
            found = self._kinds.get(sql)
            if found is None:
                found = self._kinds[sql] = _classify(sql)
            kind, writes = found
            self.statements[kind] += 1
            if writes and not context["connection"].in_atomic_block:
                self.commits += 1  # autocommit: the statement is its own transaction
        return execute(sql, params, many, context)

    @contextlib.contextmanager
    def counting_commits(self):
        original = connection.commit

        def commit():
            if self.on:
                self.commits += 1
            return original()

        connection.commit = commit
        try:
            yield
        finally:
            del connection.commit


class Command(BaseCommand):
    help = "Benchmark the engine with employee-onboarding runs (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=300)
        parser.add_argument("--warmup", type=int, default=10)

    def handle(self, *args, runs: int, warmup: int, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark measures PostgreSQL: set DATABASE_URL.")
        call_command("migrate", verbosity=0)
        call_command("seed_demo", verbosity=0)
        self.steps = Step.objects.in_bulk()
        self.step_keys = {pk: step.key for pk, step in self.steps.items()}
        self.queues = Queue.objects.in_bulk()
        users = {
            u.username: u
            for u in get_user_model().objects.filter(username__in=[*WHO.values(), "manager"])
        }
        # The fake payroll API runs in its own process, as an external service would, so that
        # its work is not counted as the engine's.
        payroll = _PayrollServer()
        celery_logger = logging.getLogger("celery")
        # Everything changed here for the runs is put back afterwards (the tests call this).
        with contextlib.ExitStack() as restore:
            restore.callback(payroll.stop)  # also when a run fails: no server left behind
            restore.enter_context(
                override_settings(
                    PAYROLL_API_URL=payroll.url,
                    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                    DEBUG=False,  # measure as production runs: no query log kept in memory
                )
            )
            restore.enter_context(_InlineWorker(execute_step).installed())
            held = restore.enter_context(_HeldMessages().installed())
            restore.callback(celery_logger.setLevel, celery_logger.level)
            celery_logger.setLevel(logging.WARNING)  # a line per task otherwise

            self._check_completed([self._one_run(-1 - n, users) for n in range(warmup)])
            meter = _Meter()
            durations, run_ids = [], []
            backend_started = _backend_cpu_seconds()
            with connection.execute_wrapper(meter), meter.counting_commits():
                meter.on = True
                started, cpu_started = time.perf_counter(), time.process_time()
                for n in range(runs):
                    t0 = time.perf_counter()
                    run_ids.append(self._one_run(n, users))
                    durations.append(time.perf_counter() - t0)
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                meter.on = False
            backend_cpu = _backend_cpu_seconds()
            # Checking the outcomes is not part of the workload: once, after the runs.
            self._check_completed(run_ids)
            held.send()
            self._check_notified(run_ids)

        db_rate = self._database_commit_rate()
        rate = runs / elapsed
        sql_per_run = sum(meter.statements.values()) / runs
        commits_per_run = meter.commits / runs
        ratio = (commits_per_run * rate) / db_rate
        durations_ms = sorted(d * 1000 for d in durations)
        p95 = durations_ms[max(0, int(len(durations_ms) * 0.95) - 1)]
        out = self.stdout.write
        out(f"runs: {runs} employee-onboarding runs in {elapsed:.2f} s")
        out(f"runs per second: {rate:.1f}")
        out(f"ms per run: mean {statistics.mean(durations_ms):.1f}, p95 {p95:.1f}")
        # The rest of each run is waiting: for PostgreSQL, and for the payroll API.
        out(f"CPU ms per run in this process: {cpu / runs * 1000:.1f}")
        if backend_started is not None and backend_cpu is not None:
            backend_ms = (backend_cpu - backend_started) / runs * 1000
            out(f"CPU ms per run in PostgreSQL's backend: {backend_ms:.1f}")
        by_kind = ", ".join(f"{k} {v / runs:.1f}" for k, v in meter.statements.most_common())
        out(f"SQL statements per run: {sql_per_run:.1f} ({by_kind})")
        inside = 2 * meter.statements["FUNCTION"] / runs
        out(f"  of which function calls run {inside:.1f} statements inside PostgreSQL")
        out(f"commits per run: {commits_per_run:.1f}")
        out(f"database one-row update commits per second (plain psycopg): {db_rate:.0f}")
        out(f"engine transitions (commits) per second: {commits_per_run * rate:.0f}")
        out(
            f"bench: runs/s={rate:.1f} sql/run={sql_per_run:.1f} "
            f"commits/run={commits_per_run:.1f} ratio={ratio:.2f}"
        )

    def _one_run(self, n: int, users) -> int:
        run = engine.launch("employee-onboarding", started_by=users["hr"])
        # Three stages wait for people: the new hire form, IT and Facilities, the manager.
        for _ in range(3):
            for item in _open_items(run.pk):
                key = self.step_keys[item.step_id]
                user = users[WHO[key]]
                if item.assignee_queue_id:
                    # What a claim says in the run's log names the queue; whether the step
                    # excludes the claimer is read from its step. The inbox and the claim
                    # view load both with the item.
                    item.assignee_queue = self.queues[item.assignee_queue_id]
                    item.step = self.steps[item.step_id]
                    services.claim_work_item(item=item, user=user)
                services.complete_work_item(item=item, user=user, answers=ANSWERS[key](n, users))
        return run.pk

    def _check_completed(self, run_ids: list[int]) -> None:
        unfinished = (
            Run.objects.filter(pk__in=run_ids)
            .exclude(status=Run.Status.COMPLETED)
            .values_list("pk", "status")
            .first()
        )
        if unfinished:
            pk, status = unfinished
            raise CommandError(f"Run {pk} ended {status}, not completed.")

    def _check_notified(self, run_ids: list[int]) -> None:
        """Every run wrote its emails (new work, the run's end), and each was sent."""
        rows = Notification.objects.filter(run_id__in=run_ids)
        unsent = rows.exclude(status=Notification.Status.SENT).values_list("key", "error").first()
        if unsent:
            raise CommandError(f"The notification {unsent[0]} was not sent: {unsent[1]}")
        if not rows.filter(kind="run.ended").count() == len(run_ids):
            raise CommandError("A run did not tell its starter that it ended.")

    def _database_commit_rate(self, count: int = 2000) -> float:
        """One-row UPDATE commits per second with a plain psycopg loop (autocommit), on an
        ordinary table: WAL-logged and flushed at each commit, as the engine's rows are."""
        import psycopg

        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_counter")
            conn.execute("CREATE TABLE bench_counter (id int PRIMARY KEY, n int)")
            conn.execute("INSERT INTO bench_counter VALUES (1, 0)")
            try:
                start = time.perf_counter()
                for _ in range(count):
                    conn.execute("UPDATE bench_counter SET n = n + 1 WHERE id = 1")
                return count / (time.perf_counter() - start)
            finally:
                conn.execute("DROP TABLE bench_counter")
