"""Settings are read strictly from the environment."""

import os
import subprocess
import sys

from django.conf import settings


def manage_check(**env) -> subprocess.CompletedProcess:
    # make test sets DATABASE_URL and REDIS_URL: the embedded defaults need them gone; and
    # manage.py's own settings module, not the tests' (tests/settings.py turns DEBUG on).
    unset = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    unset += ("DJANGO_SETTINGS_MODULE",)
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
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
