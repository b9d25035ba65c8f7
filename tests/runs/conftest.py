"""Fixtures of the run tests."""

import pytest
from django.db import connection


@pytest.fixture(
    params=[
        "fast path",
        # Committed for real, as in production: each transition's first statement carries
        # its BEGIN and its last writes carry its COMMIT (inside a test's own transaction,
        # the engine's atomic blocks are savepoints and neither happens).
        pytest.param("fast path, committed", marks=pytest.mark.django_db(transaction=True)),
        "plain Django",
    ]
)
def engine_sql(request, settings):
    """Every flow runs both ways: the engine's fast path on PostgreSQL, and plain Django
    transactions and ORM writes (settings.ENGINE_FAST_PATH off, and always on SQLite)."""
    if request.param == "plain Django":
        settings.ENGINE_FAST_PATH = False
    elif connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: on SQLite the engine always runs on plain Django")
