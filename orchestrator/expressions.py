"""CEL expressions (conditions, computed assignees, parameter values), and the resolving of
action parameters, which may be CEL or templates (orchestrator/templating.py).

Expressions see the run data: `input` (launch inputs), `record` (the related record's
fields), `run` (id, started_by) and each completed step's outputs under its key
(`new_hire_form.salary`). CEL is safe and always terminates; every expression is compiled
when its definition is validated, so a typo is an admin message, not a failed run.
"""

import datetime
import decimal
import functools
import re
from typing import Any

import celpy
import lark
from celpy import celtypes

from orchestrator.templating import is_template, problem, render_text

_environment = celpy.Environment()

# CEL's whole numbers are signed 64-bit: an answer outside them would fail the run at the
# first expression that reads it (workitems/forms.py bounds answers to them, validation the
# bounds a designer sets).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ExpressionError(Exception):
    """An expression could not be compiled or evaluated; the message says why. `source` is
    the expression and `reason` why it failed, in plain words ("it compares a number with a
    text"), for the sentences the engine writes when a run stops on it."""

    def __init__(self, message: str, *, source: str = "", reason: str = ""):
        super().__init__(message)
        self.source = source
        self.reason = reason or message


class MissingData(ExpressionError):
    """The expression reads data that is not there (yet), e.g. a step that has not answered."""


@functools.lru_cache(maxsize=4096)
def _compiled(source: str):
    """The program, and the identifiers it names (the run data it can read is among them)."""
    try:
        ast = _environment.compile(source)
    except celpy.CELParseError as exc:
        message = f"Invalid expression {source!r}: {str(exc).strip()}"
        raise ExpressionError(message, source=source) from exc
    names = frozenset(
        token.value
        for token in ast.scan_values(lambda t: isinstance(t, lark.Token) and t.type == "IDENT")
    )
    return _environment.program(ast), names


def _program(source: str):
    return _compiled(source)[0]


def names_in(source: str) -> frozenset[str]:
    """The identifiers `source` names (step keys, fields, functions alike); empty when it
    is not valid CEL."""
    try:
        return _compiled(source)[1]
    except ExpressionError:
        return frozenset()


def check(source: str) -> str | None:
    """Compile `source`; return the parser's message if it is not valid CEL, else None."""
    try:
        _program(source)
    except ExpressionError as exc:
        return str(exc)
    return None


def _to_cel(value: Any):
    if isinstance(value, decimal.Decimal):
        value = float(value)
    elif isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    return celpy.json_to_cel(value)


def _from_cel(value: Any) -> Any:
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, celtypes.IntType | celtypes.UintType):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, celtypes.StringType):
        return str(value)
    if isinstance(value, celtypes.MapType):
        return {_from_cel(k): _from_cel(v) for k, v in value.items()}
    if isinstance(value, celtypes.ListType):
        return [_from_cel(v) for v in value]
    return value


def activation(data: dict[str, Any]) -> dict[str, Any]:
    """Convert run data (plain JSON-ish values) into CEL values, once per evaluation batch."""
    return {key: _to_cel(value) for key, value in data.items()}


def evaluate(source: str, data: dict[str, Any]) -> Any:
    """Evaluate `source` over the run data and return a plain Python value."""
    try:
        program, names = _compiled(source)
        # Only the data the expression names is converted to CEL values.
        result = program.evaluate(activation({k: v for k, v in data.items() if k in names}))
    except ExpressionError:
        raise
    except Exception as exc:  # CELEvalError and the Python errors it wraps
        message = exc.args[0] if exc.args else str(exc)
        missing = len(exc.args) > 1 and exc.args[1] is KeyError
        error_class = MissingData if missing else ExpressionError
        reason = _plain_reason(str(message), exc.args)
        raise error_class(
            f"Could not evaluate {source!r}: {reason}", source=source, reason=reason
        ) from exc
    return _from_cel(result)


# What CEL's evaluation errors mean, in the words of the people who answered the forms.
_KINDS_OF_VALUE = {
    "IntType": "a number",
    "UintType": "a number",
    "DoubleType": "a number",
    "StringType": "a text",
    "BoolType": "a yes/no answer",
    "NoneType": "an empty answer",
    "ListType": "a list",
    "MapType": "a group of answers",
    "TimestampType": "a date and time",
    "DurationType": "a duration",
}


def _plain_reason(message: str, args: tuple) -> str:
    """Why an evaluation failed, in plain words; CEL's own message (shortened) when it is
    not one of the usual ones. `args`: CEL's error (message, Python error class, its args)."""
    details = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    if found := re.search(r"no such member in mapping: '([^']*)'", message):
        return f'there is no value for "{found[1]}"'
    if message == "no such key" and details and details[0]:
        return f'there is no value for "{details[0]}"'
    if found := re.match(r"undeclared reference to '([^']*)'", message):
        return f'there is no data named "{found[1]}"'
    if message.startswith("found no matching overload"):
        kinds = [
            _KINDS_OF_VALUE.get(name, "a value")
            for name in re.findall(r"<class '(?:celpy\.celtypes\.)?(\w+)'>", message)
        ]
        if len(kinds) == 2:
            return f"it compares or combines {kinds[0]} with {kinds[1]}"
        return "it uses a value of the wrong kind"
    if len(args) > 1 and args[1] is ValueError:
        return "it converts a value that cannot be converted (e.g. a text to a number)"
    if "divide by zero" in message:
        return "it divides by zero"
    if "does not support field selection" in message:
        return "it reads a field of an empty answer"
    return message if len(message) <= 200 else f"{message[:200]}…"


def condition_holds(source: str, data: dict[str, Any]) -> bool:
    """An empty condition holds; otherwise the expression must give true."""
    if not source.strip():
        return True
    return evaluate(source, data) is True


def resolve_value(value: Any, data: dict[str, Any]) -> Any:
    """Resolve an action parameter: strings starting with '=' are CEL, strings with '{{' or
    '{%' are templates (rendered to plain text), lists and dicts are resolved item by item,
    anything else is itself."""
    if isinstance(value, str):
        if value.startswith("="):
            return evaluate(value[1:], data)
        if is_template(value):
            return render_text(value, data)
        return value
    if isinstance(value, list):
        return [resolve_value(item, data) for item in value]
    if isinstance(value, dict):
        return {key: resolve_value(item, data) for key, item in value.items()}
    return value


def check_value(value: Any) -> list[str]:
    """Every problem in a parameter value's expressions and templates."""
    problems: list[str] = []
    if isinstance(value, str):
        if value.startswith("="):
            message = check(value[1:])
        elif is_template(value):
            message = problem(value)
        else:
            message = None
        if message:
            problems.append(message)
    elif isinstance(value, list):
        for item in value:
            problems.extend(check_value(item))
    elif isinstance(value, dict):
        for item in value.values():
            problems.extend(check_value(item))
    return problems
