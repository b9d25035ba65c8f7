"""Settings are read strictly from the environment."""

import os
import re
import secrets
import subprocess
import sys

from django.conf import settings


def manage_check(*options: str, **env: str | None) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own, with `env` (None: unset) over a clean one."""
    # make test sets DATABASE_URL and REDIS_URL: the embedded defaults need them gone; and
    # manage.py's own settings module, not the tests' (tests/settings.py turns DEBUG on).
    unset = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    unset += ("DJANGO_SETTINGS_MODULE",)
    # The browser tests' (tests/support/fixtures.py), which `check --deploy` rightly refuses.
    unset += ("DJANGO_ALLOW_ASYNC_UNSAFE",)
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    merged = {k: v for k, v in {**clean, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *options],
        cwd=settings.BASE_DIR,
        env=merged,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_a_secret_key_refuses_to_start():
    result = manage_check(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_an_unclear_boolean_is_an_error_not_a_guess():
    result = manage_check(DEBUG="yes")
    assert result.returncode != 0
    assert "DEBUG must be one of true, false" in result.stderr


def test_production_on_the_embedded_defaults_is_warned_about(tmp_path):
    result = manage_check(DEBUG="false", SECRET_KEY="s3cret", VAR_DIR=str(tmp_path))
    assert result.returncode == 0
    assert "orchestrator.W001" in result.stderr + result.stdout
    assert "orchestrator.W002" in result.stderr + result.stdout


def test_secrets_can_come_from_files(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    result = manage_check(DEBUG="false", SECRET_KEY_FILE=str(secret), VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def env_example() -> dict[str, str]:
    """The variables .env.example sets (not those it only mentions in a comment)."""
    values = {}
    for line in (settings.BASE_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip('"')
    return values


def test_the_production_environment_of_env_example_passes_check_deploy(tmp_path):
    production = env_example()
    assert production["DEBUG"] == "false"
    production.update(SECRET_KEY="k" + secrets.token_urlsafe(60), VAR_DIR=str(tmp_path))
    result = manage_check("--deploy", **production)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.findall(r"security\.[WE]\d+", output), output


def test_debug_is_off_unless_the_environment_turns_it_on(tmp_path):
    result = manage_check(SECRET_KEY="s3cret", VAR_DIR=str(tmp_path), DEBUG=None)
    assert result.returncode == 0, result.stderr
    result = manage_check("--deploy", SECRET_KEY="s3cret", VAR_DIR=str(tmp_path), DEBUG=None)
    assert "security.W018" not in result.stdout + result.stderr  # "DEBUG is on"
    assert "security.W009" in result.stdout + result.stderr  # the deploy check did run
