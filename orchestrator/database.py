"""Connection set-up for PostgreSQL: a faster loader for timestamps.

Django loads `timestamptz` values with psycopg's pure-Python parser, then sets the tzinfo
(django.db.backends.postgresql.psycopg_any.BaseTzLoader). Every row the engine reads has
several timestamps, and that parser was one of the largest costs left in `make bench`. With
USE_TZ and the session in UTC (Django's set-up), `datetime.fromisoformat()`, written in C,
reads PostgreSQL's output to the same value, about ten times faster. Anything it cannot
read ("infinity", years BC) goes to Django's loader, and so does any other set-up.
"""

import datetime

from django.db.backends.signals import connection_created
from django.dispatch import receiver

UTC = datetime.UTC


@receiver(connection_created)
def use_fast_timestamp_loader(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql" or connection.timezone is not UTC:
        return
    if connection.connection.info.parameter_status("TimeZone") != "UTC":
        return
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class UtcTimestampLoader(BaseTzLoader):
        timezone = UTC  # Django compares it with the connection's before each cursor

        def load(self, data):
            try:
                value = datetime.datetime.fromisoformat(bytes(data).decode())
            except ValueError:
                return super().load(data)
            return value if value.tzinfo is UTC else value.astimezone(UTC)

    connection.connection.adapters.register_loader("timestamptz", UtcTimestampLoader)
