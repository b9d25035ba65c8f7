"""Connection set-up (orchestrator/database.py): a transaction's first statement carries its
BEGIN, and the timestamp loader reads PostgreSQL's timestamps as Django's own does."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from orchestrator.database import UTC

pytestmark = pytest.mark.django_db


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_the_first_statement_of_a_block_carries_begin_and_the_block_is_a_transaction():
    postgresql_only()
    with pytest.raises(Boom), transaction.atomic(), CaptureQueriesContext(connection) as queries:
        Group.objects.create(name="first")
        Group.objects.create(name="second")
        raise Boom
    assert queries[0]["sql"].startswith("BEGIN; INSERT")
    assert queries[1]["sql"].startswith("INSERT")
    assert not Group.objects.exists()  # both rolled back: BEGIN was sent
    # Django set the connection back: the next block is a transaction too.
    with pytest.raises(Boom), transaction.atomic():
        Group.objects.create(name="third")
        raise Boom
    assert not Group.objects.exists()
    assert connection.get_autocommit() and connection.connection.autocommit


@pytest.mark.django_db(transaction=True)
def test_a_transaction_managed_by_hand_is_left_to_psycopg():
    postgresql_only()
    transaction.set_autocommit(False)
    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            Group.objects.create(name="by hand")
        assert not queries[0]["sql"].startswith("BEGIN")
        transaction.rollback()  # the block did not commit: the transaction is still open
    finally:
        transaction.set_autocommit(True)
    assert not Group.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_server_side_cursor_first_in_a_block_is_left_to_psycopg():
    postgresql_only()
    Group.objects.create(name="one")
    with transaction.atomic():
        names = [group.name for group in Group.objects.iterator(chunk_size=10)]
        Group.objects.create(name="two")
    assert names == ["one"]
    assert Group.objects.count() == 2


def select(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def test_timestamps_load_as_aware_utc_datetimes():
    postgresql_only()
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
    postgresql_only()
    with pytest.raises(DataError, match="after year 10K"):
        select("SELECT 'infinity'::timestamptz")
