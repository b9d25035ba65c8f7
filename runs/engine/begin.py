"""How an engine transaction begins on PostgreSQL without a round trip of its own. Used only by
the unit of work (runs/engine/unit.py).

Inside `transaction.atomic()`, psycopg sends BEGIN on its own before the block's first
statement and waits for the answer: a round trip that carries nothing. `CarryBegin`, an
execute wrapper installed for one engine transaction only (`connection.execute_wrapper()`),
sends the two together instead ("BEGIN; <statement>", one query), then steps aside. It is
one part of a transition's round trips, with the writes and COMMIT pipelined: sql.Pipeline
says what that is worth.
"""

from psycopg import ClientCursor
from psycopg.pq import PipelineStatus, TransactionStatus


class CarryBegin:
    """The first statement of the block carries its BEGIN. Installed only where the unit of
    work opened the outermost atomic block in autocommit mode, so that Django resets the
    connection when the block ends; a statement it cannot carry (several at once, in a
    pipeline, a server-side cursor) is left to psycopg, which begins as usual."""

    def __init__(self):
        self.done = False

    def __call__(self, execute, sql, params, many, context):
        if self.done:
            return execute(sql, params, many, context)
        self.done = True
        raw = context["connection"].connection
        pgconn = raw.pgconn
        if (
            pgconn.transaction_status != TransactionStatus.IDLE
            or many
            or raw.autocommit
            or pgconn.pipeline_status != PipelineStatus.OFF
            or not isinstance(context["cursor"].cursor, ClientCursor)
        ):
            return execute(sql, params, many, context)
        # psycopg sends its own BEGIN only when autocommit is off. From here the server's
        # transaction status decides (commit() and rollback() look at it, not at this flag),
        # and Django turns autocommit back on when the block ends.
        raw.autocommit = True
        try:
            result = execute(f"{_begin(raw)}; {sql}", params, many, context)
        except BaseException:
            if pgconn.transaction_status == TransactionStatus.IDLE:
                raw.autocommit = False  # nothing began: the next statement begins
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
