"""Real Celery processes (a worker, beat) started by tests, on the tests' database and broker.

The process gets its settings from the environment, as in production: DATABASE_URL points at
pytest-django's test database (PostgreSQL, or the SQLite file), the broker is the tests' own
(Redis, or kombu's filesystem broker in the same VAR_DIR), email goes to files in a folder the
test can read (`outbox()`), and ACTION_MODULES adds the test-only actions.
"""

import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from orchestrator.celery import app
from tests.support.polling import wait_for

ROOT = Path(settings.BASE_DIR)
QUEUES = sorted({route["queue"] for route in settings.CELERY_TASK_ROUTES.values()})
# Django's file email backend ends every message with this line.
MESSAGE_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


class ProcessFailed(Exception):
    """A worker or beat process exited before it logged what a test waited for."""


def worker_database_url() -> str:
    """The URL of the database this test process uses (the `test_` one, once it is set up)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        # The settings' TEST NAME, a file: an in-memory database is not seen by other processes.
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = quote(db["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{db['HOST'] or 'localhost'}{port}/{db['NAME']}"


def reset_broker() -> None:
    """Empty the tests' queues, and forget messages a killed worker had taken but not acked
    (Redis would hand those out again, long after the test that sent them)."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            channel.queue_purge(queue)  # Redis lists, or the filesystem broker's message files
        if conn.transport.driver_type == "redis":
            channel.client.delete(
                channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key
            )
        # The filesystem broker has nothing unacked to forget: a worker deletes a message's
        # file as it takes it.


class CeleryProcess:
    """One `celery` process in its own process group, logging to `log`."""

    ready_marker = ""

    def __init__(self, arguments: list[str], *, env: dict[str, str], log: Path):
        self.arguments = arguments
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until it logs that it is ready."""
        if self.alive:
            raise ProcessFailed("It is already running.")
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "orchestrator", *self.arguments],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches every child
            )
        self.wait_for_log(self.ready_marker, timeout=timeout, after=offset)

    def stop(self, timeout: float = 20.0) -> None:
        """Ask for a warm shutdown (running tasks finish); kill it if it takes too long."""
        if not self.alive:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a machine that dies would: nothing is acked."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(10)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self, after: int = 0) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(after)
            return log.read().decode(errors="replace")

    def wait_for_log(self, text: str, *, timeout: float = 20.0, after: int = 0) -> str:
        """Wait until `text` appears in the log (past byte `after`); return the log."""

        def logged() -> str | None:
            log = self.log_text(after)
            if text in log:
                return log
            if self.process is not None and self.process.poll() is not None:
                raise ProcessFailed(
                    f"The process exited ({self.process.returncode}) before logging {text!r}:\n"
                    + self._tail(log)
                )
            return None

        return wait_for(
            logged,
            timeout=timeout,
            interval=0.05,
            message=lambda: f"{text!r} in the log:\n" + self._tail(self.log_text(after)),
        )

    def _signal(self, signum: int) -> None:
        # The group is gone already when the process exited and was reaped.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    @staticmethod
    def _tail(log: str) -> str:
        return "\n".join(log.splitlines()[-40:])


class WorkerProcess(CeleryProcess):
    """A worker consuming the engine, actions and notifications queues."""

    ready_marker = " ready."

    def __init__(self, *, env: dict[str, str], log: Path, outbox_dir: Path, name: str):
        super().__init__(
            [
                "worker",
                "-Q",
                ",".join(QUEUES),
                "--pool=threads",
                "--concurrency=4",
                "-l",
                "info",
                "-n",
                f"{name}@%h",
                # Nothing in the tests talks to other workers: skip the start-up handshakes.
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            log=log,
        )
        self.outbox_dir = outbox_dir

    def wait_for_task(self, task_id: str, *, timeout: float = 20.0) -> str:
        """Wait until the worker logs that the task finished (succeeded or raised)."""

        def finished() -> str | None:
            for line in self.log_text().splitlines():
                if f"[{task_id}]" in line and (" succeeded in " in line or " raised " in line):
                    return line
            return None

        return wait_for(
            finished,
            timeout=timeout,
            interval=0.05,
            message=lambda: f"task {task_id} to finish:\n" + self._tail(self.log_text()),
        )

    def outbox(self) -> list[EmailMessage]:
        """Every email the worker sent, oldest first."""
        messages = []
        files = sorted(self.outbox_dir.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name))
        for path in files:
            for chunk in path.read_bytes().split(MESSAGE_SEPARATOR):
                if chunk.strip():
                    messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
        return messages


class BeatProcess(CeleryProcess):
    """Celery beat sending the schedule in settings (the sweeper every few seconds)."""

    ready_marker = "beat: Starting..."

    def __init__(self, *, env: dict[str, str], log: Path, schedule: Path):
        super().__init__(["beat", "-l", "info", "-s", str(schedule)], env=env, log=log)


def process_env(
    *,
    outbox_dir: Path,
    sweep_interval_seconds: int = 1,
    payroll_api_url: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker or beat started by a test."""
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(
        DATABASE_URL=worker_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        # The filesystem broker's folder (and the SQLite file) are under VAR_DIR.
        VAR_DIR=str(settings.VAR_DIR),
        CONN_MAX_AGE="0",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(outbox_dir),
        ACTION_MODULES="demo.actions,tests.support.actions",
        SWEEP_INTERVAL_SECONDS=str(sweep_interval_seconds),
        PYTHONUNBUFFERED="1",
    )
    if payroll_api_url:
        env["PAYROLL_API_URL"] = payroll_api_url
    env.update(extra or {})
    return env
