"""Shared pytest fixtures: a real Celery worker process and the browser (see the modules).

Worker tests need `@pytest.mark.django_db(transaction=True)`: the worker is another process
and sees only committed rows. Browser tests are marked `browser` (added automatically to
tests that use `page` or `browser`), worker tests `worker`.
"""

import itertools
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.support import browser as browser_support
from tests.support import worker as worker_support

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
_names = itertools.count(1)
BROWSER_FIXTURES = {"page", "browser"}
WORKER_FIXTURES = {"celery_worker_process", "celery_worker_factory", "celery_beat_process"}


def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if fixtures & WORKER_FIXTURES:
            item.add_marker(pytest.mark.worker)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so that `page` can tell a failed test.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _require_real_services(request) -> None:
    """A worker process needs a database and a broker another process can reach: PostgreSQL
    and Redis, or the embedded default (a SQLite file and the filesystem broker)."""
    # Outside CI a missing service skips; in CI it must not hide the worker tests.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if connection.vendor not in ("postgresql", "sqlite"):
        missing(f"A worker process needs PostgreSQL or SQLite, not {connection.vendor}.")
    if connection.vendor == "sqlite" and connection.creation.is_in_memory_db(
        connection.settings_dict["NAME"]
    ):
        missing("A worker process cannot see an in-memory SQLite database: set its TEST NAME.")
    broker = settings.CELERY_BROKER_URL.partition("://")[0]
    if broker not in ("redis", "rediss", "filesystem"):
        missing(f"A worker process needs Redis or the filesystem broker, not {broker}://.")
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if not transactional:
        pytest.fail(
            "A test with a worker process needs @pytest.mark.django_db(transaction=True): "
            "the worker only sees committed rows."
        )


@pytest.fixture
def celery_worker_factory(request, django_db_setup, tmp_path):
    """Start real Celery workers: `celery_worker_factory(payroll_api_url=..., env={...})`.

    The broker's queues are emptied first; every worker started here is stopped at the end
    of the test."""
    _require_real_services(request)
    worker_support.reset_broker()
    started: list[worker_support.WorkerProcess] = []

    def start(
        *,
        payroll_api_url: str | None = None,
        sweep_interval_seconds: int = 1,
        env: dict[str, str] | None = None,
    ) -> worker_support.WorkerProcess:
        number = next(_names)
        outbox = tmp_path / f"outbox-{number}"
        outbox.mkdir()
        worker = worker_support.WorkerProcess(
            env=worker_support.process_env(
                outbox_dir=outbox,
                sweep_interval_seconds=sweep_interval_seconds,
                payroll_api_url=payroll_api_url,
                extra=env,
            ),
            log=tmp_path / f"worker-{number}.log",
            outbox_dir=outbox,
            name=f"test-{os.getpid()}-{number}",
        )
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.kill()  # nothing to finish gracefully, and a warm shutdown takes seconds
    worker_support.reset_broker()


@pytest.fixture
def empty_broker():
    """`empty_broker()` loses every message sent so far to the tests' broker (Redis, or the
    filesystem broker), as a broker that crashed would."""
    return worker_support.reset_broker


@pytest.fixture
def celery_worker_process(celery_worker_factory):
    """A real Celery worker on the engine, actions and notifications queues, with `.stop()`,
    `.kill()`, `.start()`, `.log`, `.wait_for_task(id)`, `.wait_for_log(text)` and
    `.outbox()`."""
    return celery_worker_factory()


@pytest.fixture
def celery_beat_process(request, django_db_setup, tmp_path):
    """Celery beat sending the settings' schedule (the sweep every second) to the tests'
    broker. Most tests call `runs.sweeper` functions directly instead."""
    _require_real_services(request)
    outbox = tmp_path / "beat-outbox"
    outbox.mkdir()
    beat = worker_support.BeatProcess(
        env=worker_support.process_env(outbox_dir=outbox),
        log=tmp_path / "beat.log",
        schedule=tmp_path / "celerybeat-schedule",
    )
    beat.start()
    yield beat
    beat.kill()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, one for the session."""
    if not browser_support.CHROMIUM.exists():
        pytest.fail(f"The browser tests need {browser_support.CHROMIUM}: run make test.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM then refuses to
    # run in the test body unless told that this is not an async context.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = browser_support.launch(playwright)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(request, browser):
    """A fresh page (its own cookies); a screenshot goes to test-artifacts/ if the test fails.
    With `live_server`, relative URLs work: `page.goto("/inbox/")`."""
    options = {"viewport": {"width": 1280, "height": 900}}
    if "live_server" in request.fixturenames:
        options["base_url"] = request.getfixturevalue("live_server").url
    context = browser.new_context(**options)
    context.set_default_timeout(browser_support.DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
