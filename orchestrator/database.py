"""Connection set-up for PostgreSQL: transactions that begin without a round trip of their
own, and a faster loader for timestamps.

Inside `transaction.atomic()`, psycopg sends BEGIN on its own before the block's first
statement and waits for the answer: a round trip that carries nothing, about one in five of
an engine transition's. `carry_begin` sends the two together instead ("BEGIN; <statement>",
one query). It applies only where Django resets the connection when the block ends (an
outermost block entered in autocommit mode), to a client-side cursor's single statement
outside pipeline mode; anything else goes as usual.

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
def begin_with_first_statement(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql" and carry_begin not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, carry_begin)


def carry_begin(execute, sql, params, many, context):
    # Every statement passes here: the cheapest tests first, and the usual case (a block
    # whose transaction has begun) answered by the second one.
    connection = context["connection"]
    if not connection.in_atomic_block:
        return execute(sql, params, many, context)
    raw = connection.connection
    pgconn = raw.pgconn
    if (
        pgconn.transaction_status != _IDLE
        or many
        or not connection.commit_on_exit  # a block inside a transaction managed by hand
        or raw.autocommit
        or pgconn.pipeline_status != _PIPELINE_OFF  # one statement per query there
        or not isinstance(context["cursor"].cursor, _ClientCursor)
    ):
        return execute(sql, params, many, context)
    # psycopg sends its own BEGIN only when autocommit is off. From here the server's
    # transaction status decides (commit() and rollback() look at it, not at this flag),
    # and Django turns autocommit back on when the block ends.
    raw.autocommit = True
    try:
        result = execute(f"{_begin(raw)}; {sql}", params, many, context)
    except BaseException:
        if pgconn.transaction_status == _IDLE:
            raw.autocommit = False  # nothing began: the block's next statement begins
        raise
    context["cursor"].nextset()  # the statement's own result, after BEGIN's
    return result


def _begin(raw) -> str:
    """BEGIN with the connection's transaction settings, as psycopg would send it."""
    words = ["BEGIN"]
    if raw.isolation_level is not None:
        words.append(f"ISOLATION LEVEL {raw.isolation_level.name.replace('_', ' ')}")
    if raw.read_only is not None:
        words.append("READ ONLY" if raw.read_only else "READ WRITE")
    if raw.deferrable is not None:
        words.append("DEFERRABLE" if raw.deferrable else "NOT DEFERRABLE")
    return " ".join(words)


try:
    from psycopg import ClientCursor as _ClientCursor
    from psycopg.pq import PipelineStatus, TransactionStatus

    _IDLE, _PIPELINE_OFF = TransactionStatus.IDLE, PipelineStatus.OFF
except ImportError:  # SQLite only: nothing here is used
    _ClientCursor = _IDLE = _PIPELINE_OFF = None


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
