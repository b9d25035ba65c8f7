"""`make run` itself, on PostgreSQL and Redis: web, worker and beat start, a background step
runs on the worker, and however the process set is stopped, no process is left behind.

Each test runs the real `make run` (migrate and seed_demo on the test database, which is
quick once migrated, then honcho with Procfile.dev) in its own session, as a terminal would,
and keeps the pid and start time of every process under it, to check afterwards with /proc
that each one is gone.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from runs import engine
from runs.models import StepRun
from tests.support import worker as worker_support
from workitems.models import WorkItem

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

ROOT = Path(settings.BASE_DIR)
START_TIMEOUT = 120.0  # a loaded 2-core machine: install check, migrate, seed, three processes
STOP_TIMEOUT = 30.0  # honcho kills what is left after 5 seconds; the kernel's signals are quick


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) from /proc, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return int(fields[1]), fields[0], int(fields[19])


def _command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MakeRun:
    """`make run` started as a terminal would start it: its own session and process group."""

    def __init__(self, log: Path, var_dir: Path):
        self.port = _free_port()
        self.log = log
        env = {
            name: value
            for name, value in os.environ.items()
            # make run's own defaults, not whatever the test run was started with.
            if name
            not in (
                "DEBUG",
                "DJANGO_SETTINGS_MODULE",
                "SITE_URL",
                "PAYROLL_API_URL",
                "PAYROLL_API_TOKEN",
                "DEMO_ENABLED",
                "ACTION_MODULES",
                "LOG_SCHEDULED_TASKS",
            )
        }
        env.update(
            DATABASE_URL=worker_support.worker_database_url(),
            REDIS_URL=settings.REDIS_URL,
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            PORT=str(self.port),
            SWEEP_INTERVAL_SECONDS="1",  # beat sends a sweep every second
            # As on a fresh clone: there is no var/ (with PostgreSQL and Redis nothing makes it).
            VAR_DIR=str(var_dir),
            MAKEFLAGS="",
        )
        with log.open("wb") as output:
            self.make = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.seen: dict[int, int] = {}  # pid: start time, of every process under make

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> dict[int, str]:
        """The processes under make now (pid: command line); they are also kept in `seen`."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] != "Z":
                parents[int(entry.name)] = stat[0]
        found = {self.make.pid}
        while True:
            more = {pid for pid, parent in parents.items() if parent in found} - found
            if not more:
                break
            found |= more
        for pid in found:
            if (stat := _stat(pid)) is not None:
                self.seen.setdefault(pid, stat[2])
        return {pid: _command_line(pid) for pid in found}

    def left_over(self) -> dict[int, str]:
        """The processes seen under make that still run (a zombie has finished)."""
        alive = {}
        for pid, started in self.seen.items():
            stat = _stat(pid)
            if stat is not None and stat[2] == started and stat[1] != "Z":
                alive[pid] = _command_line(pid)
        return alive

    def wait_until_up(self) -> None:
        """Wait for the login page, the worker and beat, then note every process."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.make.poll() is not None:
                pytest.fail(f"make run exited ({self.make.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"make run was not up within {START_TIMEOUT}s:\n{self.output()}")
            output = self.output()
            if " ready." in output and "beat: Starting..." in output and self._login_page():
                break
            time.sleep(0.2)
        self.up_at = time.monotonic()
        processes = self.processes()
        for name in ("runserver", "worker", "beat"):
            assert any(name in command for command in processes.values()), processes

    def _login_page(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as response:
                return response.status == 200 and b'name="password"' in response.read()
        except OSError:
            return False

    def pid_of(self, text: str) -> int:
        (pid,) = [pid for pid, command in self.processes().items() if text in command]
        return pid

    def wait_for_make(self) -> int:
        """make's exit status, once it has exited."""
        try:
            return self.make.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still ran {STOP_TIMEOUT}s later:\n{self.output()}")

    def wait_until_all_gone(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT
        while (left := self.left_over()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"still running: {left}\n{self.output()}"

    def kill_everything(self) -> None:
        """Whatever the test did: nothing outlives it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.make.pid, signal.SIGKILL)
        for pid in self.left_over():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.make.wait(10)


@pytest.fixture
def make_run(request, tmp_path):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip(
            "make run with DATABASE_URL and REDIS_URL is tested on PostgreSQL and Redis "
            "(make test's first run)"
        )
    if not settings.REDIS_URL or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip(
            "make run with DATABASE_URL and REDIS_URL is tested on PostgreSQL and Redis "
            "(make test's first run)"
        )
    worker_support.reset_broker()
    started = MakeRun(tmp_path / "make-run.log", var_dir=tmp_path / "var")
    yield started
    started.kill_everything()
    worker_support.reset_broker()


def _wait_for_status(step_run_filter: dict, status: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not StepRun.objects.filter(**step_run_filter, status=status).exists():
        if time.monotonic() > deadline:
            found = list(StepRun.objects.filter(**step_run_filter).values("status", "error"))
            raise AssertionError(f"no step run {status} within {timeout}s: {found}")
        time.sleep(0.2)


def test_ctrl_c_stops_web_worker_and_beat_after_they_ran_a_background_step(make_run):
    make_run.wait_until_up()
    users = {user.username: user for user in get_user_model().objects.all()}  # seed_demo's
    run = engine.launch("employee-onboarding", started_by=users["hr"])
    item = WorkItem.objects.get(run=run, step__key="new_hire_form")
    engine.complete_step(
        run_id=run.pk,
        step_run_id=item.step_run_id,
        user=users["hr"],
        outputs={
            "full_name": "Ana Pérez",
            "email": "ana.perez@example.com",
            "start_date": "2027-01-04",
            "department": "Engineering",
            "job_title": "Backend engineer",
            "manager": users["manager"].pk,
            "annual_salary": 91000.0,
        },
    )

    # The worker of make run calls the demo's payroll API on the web server of make run.
    _wait_for_status({"run": run, "step__key": "setup_payroll"}, StepRun.Status.COMPLETED)
    time.sleep(max(0.0, make_run.up_at + 3 - time.monotonic()))  # three sweeps at least

    # The terminal shows the step's task, not the sweeps.
    output = make_run.output()
    assert "Task runs.tasks.execute_step[" in output
    assert "Task runs.tasks.sweep[" not in output
    assert "Sending due task" not in output

    os.killpg(make_run.make.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    make_run.wait_for_make()
    make_run.wait_until_all_gone()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", make_run.port), 1):
        pass
    assert "SIGINT received" in make_run.output()


def test_one_process_dying_stops_the_others(make_run):
    make_run.wait_until_up()

    os.kill(make_run.pid_of("orchestrator beat"), signal.SIGKILL)

    assert make_run.wait_for_make() != 0
    make_run.wait_until_all_gone()
    assert "beat.1 stopped (rc=-9)" in make_run.output()


def test_killing_the_runner_outright_leaves_no_process(make_run):
    make_run.wait_until_up()
    (honcho,) = [  # make's child; honcho's helpers, its children, have the same command line
        pid
        for pid, command in make_run.processes().items()
        if "run_procfile.py" in command and _stat(pid)[0] == make_run.make.pid
    ]

    os.kill(honcho, signal.SIGKILL)

    assert make_run.wait_for_make() != 0
    make_run.wait_until_all_gone()
