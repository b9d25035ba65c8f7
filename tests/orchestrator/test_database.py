"""The faster timestamp loader reads PostgreSQL's timestamps as Django's own loader does."""

import datetime

import pytest
from django.db import DataError, connection

from orchestrator.database import UTC

pytestmark = pytest.mark.django_db


def select(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def test_timestamps_load_as_aware_utc_datetimes():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader.__name__ == "UtcTimestampLoader"

    fraction, whole, first, other_zone = select(
        "SELECT '2026-06-01 10:00:00.5+00'::timestamptz, '2026-06-01 10:00:00+00'::timestamptz,"
        " '0001-01-01 00:00:00+00'::timestamptz, '2026-06-01 12:00:00+02'::timestamptz"
    )

    assert fraction == datetime.datetime(2026, 6, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert whole == datetime.datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert first == datetime.datetime(1, 1, 1, tzinfo=UTC)
    assert other_zone == whole
    assert {value.tzinfo for value in (fraction, whole, first, other_zone)} == {UTC}


def test_what_python_cannot_represent_fails_as_with_djangos_loader():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with pytest.raises(DataError, match="after year 10K"):
        select("SELECT 'infinity'::timestamptz")
