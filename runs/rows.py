"""Reading and writing the engine's rows with SQL built once per process.

`QuerySet.bulk_create()`, `Model.save()`, `QuerySet.bulk_update()` and every QuerySet build
their SQL anew on each call; on a small machine that costs more CPU than the database spends
on the rows (`make bench` shows it). The engine's hot path goes through these instead:
`PreparedSelect` for its reads, `insert()` for new rows, `update()` for changed ones. All
are plain Django-backend SQL, so they work on PostgreSQL and SQLite alike.

Like bulk_create(), they send no model signals; the runtime models have no receivers.
"""

import contextlib
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


def _builder(model: type[models.Model]):
    """What turns a row into an instance: Model.from_db(), or, for a model with no
    pre_init / post_init receivers, the same instance made without Model.__init__ (its
    per-field loop was a tenth of the engine's CPU in `make bench`): the values in the
    instance's __dict__, as __init__ puts them, and the state from_db() sets."""
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
    receivers, or a value of a field it does not have, goes through Model.__init__."""
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


def _database():
    """The default connection's own wrapper: `django.db.connection` is a proxy that looks it
    up again on every attribute, and these functions use it once per value."""
    return connections[DEFAULT_DB_ALIAS]


@contextlib.contextmanager
def pipeline():
    """On PostgreSQL, send the statements of the block without waiting for each one's answer
    (psycopg's pipeline mode): the block's writes cost one round trip, not one each. A
    statement whose result is read (RETURNING, rowcount) still waits for it. The writes whose
    results nobody reads share one cursor (a new cursor for each cost more CPU than the
    statement). Elsewhere, statements go one by one as usual."""
    db = _database()
    if db.vendor != "postgresql":
        yield
        return
    db.ensure_connection()
    outer = getattr(db, "rows_writer", None)
    try:
        # An error a pipelined statement meets arrives when the pipeline ends, outside the
        # cursor's own translation into Django's exceptions (IntegrityError and the like).
        # The writer closes after the pipeline has delivered its results.
        with db.wrap_database_errors, db.cursor() as writer, db.connection.pipeline():
            db.rows_writer = writer
            yield
    finally:
        db.rows_writer = outer


def _write(db, sql: str, params) -> None:
    """Execute a statement whose result is not read."""
    writer = getattr(db, "rows_writer", None)
    if writer is not None:
        writer.execute(sql, params)
        return
    with db.cursor() as cursor:
        cursor.execute(sql, params)


def commit_in_pipeline() -> bool:
    """Inside pipeline(), at the end of the outermost atomic block: send COMMIT with the
    block's last writes, in their round trip. Django's own commit at the end of the block
    then finds nothing to commit, and runs the on_commit callbacks as usual. Nothing may run
    in the block after this. False (and nothing sent) where it does not apply: not
    PostgreSQL, inside an outer atomic block, a savepoint or a transaction managed by hand,
    or a block that will roll back.
    """
    db = _database()
    if (
        db.vendor != "postgresql"
        or getattr(db, "rows_writer", None) is None
        or len(db.atomic_blocks) != 1
        or not db.commit_on_exit
        or db.savepoint_ids
        or db.needs_rollback
    ):
        return False
    _write(db, "COMMIT", None)
    return True


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
    quote = connection.ops.quote_name
    row = f"({', '.join('%s' for _ in fields)})"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join(row for _ in range(count))}"
    )
    return f"{sql} RETURNING {quote(model._meta.pk.column)}" if keys else sql


def insert(objects: list[models.Model], *, keys: bool = True) -> None:
    """INSERT new objects of one model in one statement and set their primary keys, as
    bulk_create() does (auto_now_add fields included). With keys=False the primary keys are
    not read back (the objects are not used again): inside pipeline() nothing waits for it."""
    if not objects:
        return
    model = type(objects[0])
    db = _database()
    if keys and not db.features.can_return_rows_from_bulk_insert:
        model.objects.bulk_create(objects)
        return
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
    sql = _insert_sql(model, len(objects), keys)
    if not keys:
        _write(db, sql, params)
        return
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    for obj, (pk,) in zip(objects, found, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = db.alias


def update(objects: list[models.Model], dirty: dict[int, set[str]]) -> None:
    """One UPDATE for the changed objects of one model, with the fields named in
    `dirty[id(obj)]`: `SET f = CASE id WHEN .. THEN .. END` for several rows. Clears `dirty`."""
    changed = [obj for obj in objects if id(obj) in dirty]
    if not changed:
        return
    meta = type(changed[0])._meta
    db = _database()
    fields = [
        meta.get_field(name) for name in sorted(set().union(*(dirty[id(o)] for o in changed)))
    ]
    quote = db.ops.quote_name
    params: list[Any] = []
    if len(changed) == 1:
        assignments = [f"{quote(field.column)} = %s" for field in fields]
        params = [
            field.get_db_prep_save(getattr(changed[0], field.attname), db) for field in fields
        ]
        where = f"{quote(meta.pk.column)} = %s"
        params.append(changed[0].pk)
    else:
        cast = db.features.requires_casted_case_in_updates
        assignments = []
        for field in fields:
            cases = " ".join("WHEN %s THEN %s" for _ in changed)
            case = f"CASE {quote(meta.pk.column)} {cases} END"
            if cast:
                case = f"CAST({case} AS {field.db_type(db)})"
            assignments.append(f"{quote(field.column)} = {case}")
            for obj in changed:
                params += [obj.pk, field.get_db_prep_save(getattr(obj, field.attname), db)]
        where = f"{quote(meta.pk.column)} IN ({', '.join('%s' for _ in changed)})"
        params += [obj.pk for obj in changed]
    sql = f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} WHERE {where}"
    _write(db, sql, params)
    dirty.clear()


class PreparedSelect:
    """A SELECT that the ORM compiles once per process; each call only executes it and builds
    the model instances, so a transition pays no query-building CPU for its reads."""

    def __init__(self, build, models_: tuple[type[models.Model], ...]):
        # A function giving the QuerySet, with placeholder values (0, "") where the
        # parameters of fetch() go, in the order the SQL has them.
        self._build = build
        self._models = models_
        self._compiled = None

    def fetch(self, *params) -> list[tuple[models.Model, ...]]:
        if self._compiled is None:
            queryset = self._build()
            compiler = queryset.query.get_compiler(using=queryset.db)
            sql, example = compiler.as_sql()
            converters = compiler.get_converters([col for col, _, _ in compiler.select])
            names = [
                ([f.attname for f in model._meta.concrete_fields], _builder(model))
                for model in self._models
            ]
            self._compiled = (sql, len(example), compiler, converters, names)
        sql, arity, compiler, converters, names = self._compiled
        if len(params) != arity:
            raise TypeError(f"This query takes {arity} parameters, not {len(params)}: {sql}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = compiler.apply_converters(rows, converters)
        result = []
        for row in rows:
            objects, start = [], 0
            for attnames, build in names:
                end = start + len(attnames)
                objects.append(build(attnames, row[start:end]))
                start = end
            result.append(tuple(objects))
        return result


class FunctionRows:
    """The rows of a PostgreSQL set-returning function whose columns are whole table rows
    (`RETURNS TABLE (run_row runs_run, ...)`), as model instances: a column that is NULL (a
    LEFT JOIN that found nothing) gives None. The SELECT is built once per process, naming
    each field's column, so it follows the models whatever order the table's columns are in.
    """

    def __init__(self, function: str, arity: int, columns: tuple[tuple[str, type], ...]):
        self._function = function
        self._arity = arity
        self._columns = columns
        self._compiled = None

    def _compile(self):
        quote = connection.ops.quote_name
        selected, layout = [], []
        for column, model in self._columns:
            fields = model._meta.concrete_fields
            selected += [f"(f.{column}).{quote(field.column)}" for field in fields]
            converters = []
            for index, field in enumerate(fields):
                col = field.get_col(model._meta.db_table)
                for converter in connection.ops.get_db_converters(col) + field.get_db_converters(
                    connection
                ):
                    converters.append((index, converter, col))
            pk_index = [field.primary_key for field in fields].index(True)
            attnames = [field.attname for field in fields]
            layout.append((_builder(model), attnames, converters, pk_index))
        arguments = ", ".join("%s" for _ in range(self._arity))
        sql = f"SELECT {', '.join(selected)} FROM {self._function}({arguments}) f"
        return sql, layout

    def fetch(self, *params) -> list[tuple[models.Model | None, ...]]:
        if self._compiled is None:
            self._compiled = self._compile()
        sql, layout = self._compiled
        db = _database()
        with db.cursor() as cursor:
            cursor.execute(sql, params)
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
