"""The test suite's settings: the project's, read from the environment as `make run` gives it
(DEBUG on unless the shell says otherwise), so that the suite needs no SECRET_KEY and gets
the development defaults (hosts, the demo). pytest-django turns DEBUG off while tests run.

The variable is set in os.environ, so the worker processes the tests start see it too.
Tests of production settings start `manage.py` with an environment of their own.
"""

import os

os.environ.setdefault("DEBUG", "true")

from orchestrator.settings import *  # noqa: E402, F403

# A fast hasher: the suite creates users and logs in by the hundred.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
