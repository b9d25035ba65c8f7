"""docker-compose.yml, the Dockerfile and .env.example describe what really exists: every
command points at a module, app, queue or file of this project, and every variable that
settings read is documented."""

import importlib
import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from celery.app.utils import find_app
from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(settings.BASE_DIR)
APP_SERVICES = ("web", "worker", "beat")
ENV_READER = re.compile(
    r"""(?:env(?:str|bool|int|list)\(|os\.environ\.get\()\s*["']([A-Z0-9_]+)["']"""
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _option(command: list[str], *names: str) -> str:
    for index, word in enumerate(command):
        if word in names:
            return command[index + 1]
    raise AssertionError(f"{' or '.join(names)} is missing from {command}")


def _settings_variables() -> set[str]:
    return set(ENV_READER.findall((ROOT / "orchestrator" / "settings.py").read_text()))


def test_the_five_services_are_described(compose):
    services = compose["services"]

    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "healthcheck" in services["postgres"]
    assert any(
        volume.endswith(":/var/lib/postgresql/data") for volume in services["postgres"]["volumes"]
    )


def test_app_services_build_this_project_with_its_dockerfile(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()

    for name in APP_SERVICES:
        assert compose["services"][name]["build"] == "."
    assert "FROM python:3.11-slim" in dockerfile
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE):
        assert (ROOT / copied).exists(), f"The Dockerfile copies {copied}, which does not exist."
    assert "collectstatic" in dockerfile


def test_web_serves_the_wsgi_application_with_gunicorn(compose):
    command = _command(compose["services"]["web"])
    module_name, attribute = next(word for word in command if ":" in word).split(":")

    assert command[0] == "gunicorn"
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_worker_consumes_every_routed_queue_of_the_celery_app(compose):
    command = _command(compose["services"]["worker"])
    app = find_app(_option(command, "-A", "--app"))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert command[:1] == ["celery"] and "worker" in command
    assert app.main == "orchestrator"
    assert set(_option(command, "-Q", "--queues").split(",")) == routed
    assert settings.CELERY_TASK_DEFAULT_QUEUE in routed


def test_beat_schedules_tasks_that_exist(compose):
    command = _command(compose["services"]["beat"])
    app = find_app(_option(command, "-A", "--app"))
    app.loader.import_default_modules()

    assert "beat" in command
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, f"beat schedules {entry['task']}, which is no task."


def test_migrations_run_before_the_app_services_start(compose):
    services = compose["services"]

    assert _command(services["migrate"])[:3] == ["python", "manage.py", "migrate"]
    assert (ROOT / "manage.py").exists()
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_app_services_share_one_environment_that_settings_read(compose):
    environments = {name: compose["services"][name]["environment"] for name in APP_SERVICES}
    keys = set(environments["web"])

    for name, environment in environments.items():
        assert set(environment) == keys, f"{name} has another environment than web."
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"} <= keys
    assert {"SITE_URL", "EMAIL_HOST", "DEFAULT_FROM_EMAIL"} <= keys
    assert keys <= _settings_variables(), "docker-compose.yml sets variables no setting reads."


def test_env_example_lists_every_variable_settings_read():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z0-9_]+)=", example, flags=re.MULTILINE))

    missing = _settings_variables() - listed
    assert not missing, f".env.example does not list {', '.join(sorted(missing))}."


def _pinned(lock: str) -> dict[str, str]:
    names = {}
    for line in (ROOT / lock).read_text().splitlines():
        if line and not line.startswith(("#", "-r ")):
            name, _, version = line.partition("==")
            names[canonicalize_name(name)] = version
    return names


def test_the_image_installs_the_runtime_lock_and_it_holds_everything_the_app_needs():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    dockerfile = "\n".join(line for line in lines if not line.startswith("#"))
    runtime = _pinned("requirements.lock")
    development = _pinned("requirements-dev.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    assert "requirements-dev.lock" not in dockerfile
    assert "-r requirements.lock" in (ROOT / "requirements-dev.lock").read_text().splitlines()
    assert not runtime.keys() & development.keys(), "a package is pinned in both locks"
    # Every runtime dependency, and each of theirs, is pinned in the runtime lock.
    wanted = [Requirement(r) for r in project["dependencies"]]
    seen = set()
    while wanted:
        requirement = wanted.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        assert name in runtime, f"{name} is needed at run time but not in requirements.lock"
        for text in metadata.requires(name) or []:
            nested = Requirement(text)
            extras = [""] + sorted(requirement.extras)
            if nested.marker is None or any(
                nested.marker.evaluate({"extra": extra}) for extra in extras
            ):
                wanted.append(nested)
    # A tool may be needed at run time too (PyYAML: the tests read YAML, cel-python needs it).
    tools = {
        canonicalize_name(Requirement(r).name) for r in project["optional-dependencies"]["dev"]
    }
    assert not runtime.keys() & (tools - seen), "the runtime lock holds test or development tools"
