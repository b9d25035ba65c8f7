"""The engine's fast path on PostgreSQL: its rows read and written with SQL built once per
process, its writes pipelined, its transactions begun and committed without round trips of
their own. Only the unit of work (runs/engine/unit.py) calls this module, and only on
PostgreSQL with settings.ENGINE_FAST_PATH on; everything here stays inside an engine
transaction and leaves Django's and psycopg's state as it found it.

What each part is worth was measured with `manage.py bench` (100 onboarding runs a time),
that part switched off and the rest on, in 5 alternating pairs, as the median of the
per-pair ratios of runs per second (2 December 2026, a slow period of the shared 2-core
machine: 8 to 15 runs per second). The whole fast path is worth 2.26 times (0.44 with
ENGINE_FAST_PATH off). Where runs per second could not resolve a part, the instructions this
process spends per run were counted too (valgrind's callgrind: the same count whatever the
machine's load), as the difference between a 40-run and a 10-run bench over 30. Like
bulk_create(), nothing here sends model signals; the runtime models have no receivers.
"""

import contextlib
import datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, models
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from orchestrator.models import Orchestration, OrchestrationVersion

UTC = datetime.UTC


def _builder(model: type[models.Model]):
    """What turns a row into an instance: Model.from_db(), or, for a model with no
    pre_init / post_init receivers, the same instance made without Model.__init__'s
    per-field loop: the values in the instance's __dict__, as __init__ puts them, and the
    state from_db() sets. Worth 16 % (0.86 with from_db() for every row)."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return lambda attnames, values: model.from_db(DEFAULT_DB_ALIAS, attnames, values)

    def build(attnames, values):
        obj = model.__new__(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        obj._state = state = ModelState()
        state.adding = False
        state.db = DEFAULT_DB_ALIAS
        return obj

    return build


def new(model: type[models.Model], **values) -> models.Model:
    """`model(**values)` for the engine's new rows, without Model.__init__'s per-field work:
    every field starts at its default, then takes the given values (a foreign key by its
    object, which is cached as the ORM caches it, or by its `_id`). A model with init
    receivers, or a value of a field it does not have, goes through Model.__init__.
    The engine's new rows (events, stage and step runs, a kind's work items: about 40 a run)
    made this way cost 7.6 % fewer instructions per run (44.0 million, 47.6 with
    Model.__init__), which alternating runs could not tell from their noise (1.02)."""
    defaults, factories, relations, known = _blank(model)
    if defaults is None or not known.issuperset(values):
        return model(**values)
    obj = model.__new__(model)
    fields = obj.__dict__
    fields.update(defaults)
    for attname, factory in factories:
        fields[attname] = factory()
    obj._state = state = ModelState()
    for name, value in values.items():
        attname = relations.get(name)
        if attname is None:
            fields[name] = value
        else:
            fields[attname] = None if value is None else value.pk
            state.fields_cache[name] = value
    return obj


@cache
def _blank(model: type[models.Model]):
    """What new() starts from: constant defaults, default factories (dict for a JSONField),
    foreign keys by name, and the names it accepts; defaults None when it must not be used."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return None, (), {}, frozenset()
    defaults, factories, relations = {}, [], {}
    for field in model._meta.concrete_fields:
        if field.is_relation:
            if not field.many_to_one:
                return None, (), {}, frozenset()
            relations[field.name] = field.attname
        if field.has_default() and callable(field.default):
            factories.append((field.attname, field.default))
        else:
            defaults[field.attname] = field.get_default()
    return (
        defaults,
        tuple(factories),
        relations,
        frozenset([*defaults, *dict(factories), *relations]),
    )


class Pipeline:
    """The writes of one flush, sent in psycopg's pipeline mode: PostgreSQL gets each
    statement as it is made and nothing waits for an answer, so a transition's writes (and
    its COMMIT) cost one round trip, not one each. A statement whose result is read
    (RETURNING) still waits for it. The writes share one cursor.

    With the BEGIN carried by the first statement (runs/engine/begin.py) this is one trick,
    a transition's round trips: measured each on its own the three parts were within the
    noise (0.98 without the carried BEGIN, 1.00 without the pipeline, 0.95 without the
    COMMIT in it), together they are worth 11 % (0.90 without them and new rows' shortcut,
    which alone is worth nothing)."""

    def __init__(self, db):
        self.db = db
        self._stack = contextlib.ExitStack()
        self.cursor = None

    def __enter__(self) -> "Pipeline":
        self.db.ensure_connection()
        stack = self._stack.__enter__()
        # An error a pipelined statement meets arrives when the pipeline ends, outside the
        # cursor's own translation into Django's exceptions (IntegrityError and the like).
        # The cursor closes after the pipeline has delivered its results.
        stack.enter_context(self.db.wrap_database_errors)
        self.cursor = stack.enter_context(self.db.cursor())
        stack.enter_context(self.db.connection.pipeline())
        return self

    def __exit__(self, *exc_info):
        return self._stack.__exit__(*exc_info)

    def write(self, sql: str, params) -> None:
        """A statement whose result is not read."""
        self.cursor.execute(sql, params)


@cache
def _insert_fields(model: type[models.Model]) -> tuple[tuple[models.Field, ...], tuple]:
    """The columns an INSERT writes (every concrete field but the auto primary key), and the
    foreign keys among them."""
    fields = tuple(
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and isinstance(field, models.AutoField))
    )
    return fields, tuple(field for field in fields if field.is_relation)


@cache
def _insert_sql(model: type[models.Model], count: int, keys: bool) -> str:
    fields, _ = _insert_fields(model)
    columns = ", ".join(f'"{field.column}"' for field in fields)
    row = f"({', '.join('%s' for _ in fields)})"
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({columns}) '
        f"VALUES {', '.join(row for _ in range(count))}"
    )
    return f'{sql} RETURNING "{model._meta.pk.column}"' if keys else sql


def insert(db, objects: list[models.Model], *, pipeline: Pipeline | None = None) -> None:
    """INSERT new objects of one model in one statement, as bulk_create() does (auto_now_add
    fields included). Without a pipeline, their new primary keys are read back and set; in
    one, they are not (nothing reads them), so nothing waits for the answer. This and
    update(), SQL built once per model and row count instead of by the ORM on each call,
    are worth 80 % (0.56 with bulk_create() and bulk_update() instead)."""
    if not objects:
        return
    model = type(objects[0])
    fields, relations = _insert_fields(model)
    params: list[Any] = []
    for obj in objects:
        for field in relations:
            # A related object saved after it was assigned (a step run created in the same
            # transaction as its event): take its new primary key.
            related = field.get_cached_value(obj, None)
            if related is not None and getattr(obj, field.attname) is None:
                if related.pk is None:
                    raise ValueError(f"{model.__name__}.{field.name} is not saved yet.")
                setattr(obj, field.attname, related.pk)
        for field in fields:
            params.append(field.get_db_prep_save(field.pre_save(obj, True), db))
    if pipeline is not None:
        pipeline.write(_insert_sql(model, len(objects), False), params)
        return
    with db.cursor() as cursor:
        cursor.execute(_insert_sql(model, len(objects), True), params)
        found = cursor.fetchall()
    for obj, (pk,) in zip(objects, found, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias


def update(db, objects: list[models.Model], dirty: dict[int, set[str]], pipeline: Pipeline):
    """One UPDATE for the changed objects of one model, with the fields named in
    `dirty[id(obj)]`: `SET f = CASE id WHEN .. THEN .. END` for several rows."""
    changed = [obj for obj in objects if id(obj) in dirty]
    if not changed:
        return
    meta = type(changed[0])._meta
    fields = [
        meta.get_field(name) for name in sorted(set().union(*(dirty[id(o)] for o in changed)))
    ]
    pk = f'"{meta.pk.column}"'
    params: list[Any] = []
    if len(changed) == 1:
        assignments = [f'"{field.column}" = %s' for field in fields]
        params = [
            field.get_db_prep_save(getattr(changed[0], field.attname), db) for field in fields
        ]
        where = f"{pk} = %s"
        params.append(changed[0].pk)
    else:
        assignments = []
        for field in fields:
            cases = " ".join("WHEN %s THEN %s" for _ in changed)
            # PostgreSQL types a CASE of parameters as text unless told.
            assignments.append(
                f'"{field.column}" = CAST(CASE {pk} {cases} END AS {field.db_type(db)})'
            )
            for obj in changed:
                params += [obj.pk, field.get_db_prep_save(getattr(obj, field.attname), db)]
        where = f"{pk} IN ({', '.join('%s' for _ in changed)})"
        params += [obj.pk for obj in changed]
    pipeline.write(f'UPDATE "{meta.db_table}" SET {", ".join(assignments)} WHERE {where}', params)


def active_version_id(db, orchestration_key: str) -> int | None:
    """The id of the orchestration's active version (one per orchestration, a constraint)."""
    version, orchestration = OrchestrationVersion._meta.db_table, Orchestration._meta.db_table
    with db.cursor() as cursor:
        cursor.execute(
            f'SELECT v.id FROM "{version}" v JOIN "{orchestration}" o ON o.id = v.orchestration_id'
            " WHERE o.key = %s AND v.status = %s",
            [orchestration_key, OrchestrationVersion.Status.ACTIVE],
        )
        found = cursor.fetchone()
    return found[0] if found else None


class FunctionRows:
    """The rows of a PostgreSQL set-returning function whose columns are whole table rows
    (`RETURNS TABLE (run_row runs_run, ...)`), as model instances: a column that is NULL (a
    LEFT JOIN that found nothing) gives None. The SELECT is built once per process, naming
    each field's column, so it follows the models whatever order the table's columns are in;
    the function's arguments are bound by name (`p_run_id => %(run_id)s`). The two
    functions (lock and read a run; take an attempt and read its run) are worth 32 % (0.76
    with the ORM's statements one by one instead) and keep a run at 47 statements, not 61."""

    def __init__(
        self, function: str, arguments: tuple[str, ...], columns: tuple[tuple[str, type], ...]
    ):
        self._function = function
        self._arguments = arguments
        self._columns = columns
        self._compiled = None

    def _compile(self, db):
        selected, layout = [], []
        for column, model in self._columns:
            fields = model._meta.concrete_fields
            selected += [f'(f.{column})."{field.column}"' for field in fields]
            converters = []
            for index, field in enumerate(fields):
                col = field.get_col(model._meta.db_table)
                for converter in db.ops.get_db_converters(col) + field.get_db_converters(db):
                    converters.append((index, converter, col))
            pk_index = [field.primary_key for field in fields].index(True)
            attnames = [field.attname for field in fields]
            layout.append((_builder(model), attnames, converters, pk_index))
        arguments = ", ".join(f"p_{name} => %({name})s" for name in self._arguments)
        sql = f"SELECT {', '.join(selected)} FROM {self._function}({arguments}) f"
        return sql, layout

    def fetch(self, db, **arguments) -> list[tuple[models.Model | None, ...]]:
        if arguments.keys() != set(self._arguments):
            raise TypeError(f"{self._function}() takes {', '.join(self._arguments)}.")
        if self._compiled is None:
            self._compiled = self._compile(db)
        sql, layout = self._compiled
        with db.cursor() as cursor:
            _read_timestamps_fast(db, cursor)
            cursor.execute(sql, arguments)
            found = cursor.fetchall()
        result = []
        for row in found:
            objects, start = [], 0
            for build, attnames, converters, pk_index in layout:
                values = list(row[start : start + len(attnames)])
                start += len(attnames)
                if values[pk_index] is None:  # no row here
                    objects.append(None)
                    continue
                for index, converter, col in converters:
                    values[index] = converter(values[index], col, db)
                objects.append(build(attnames, values))
            result.append(tuple(objects))
        return result


class UtcTimestampLoader(BaseTzLoader):
    """`timestamptz` values read with `datetime.fromisoformat()` (C) instead of psycopg's
    Python parser, for the engine's own cursors when the session is in UTC (Django's set-up
    with USE_TZ). Anything it cannot read ("infinity", years BC) goes to Django's loader.
    Worth 15 % (0.87 with psycopg's parser)."""

    timezone = UTC  # Django compares it with the connection's before each cursor

    def load(self, data):
        try:
            value = datetime.datetime.fromisoformat(bytes(data).decode())
        except ValueError:
            return super().load(data)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


def _read_timestamps_fast(db, cursor) -> None:
    """Use UtcTimestampLoader on this cursor of the engine's, where it reads the same values."""
    if db.timezone is UTC and db.connection.info.parameter_status("TimeZone") == "UTC":
        cursor.cursor.adapters.register_loader("timestamptz", UtcTimestampLoader)
