"""A Django form built from a screen's fields, and the answers it gives as run data.

Answers are stored as the step's outputs in JSON: text, long text, email, URL and choice are
strings; integer an int; decimal a float; date and datetime ISO strings; yes/no a bool;
multiple choice a list of strings; a person the user's id; a decision the chosen value.
A draft keeps what was typed as raw form values (strings, lists of strings for multiple
choice), so that a half-filled screen comes back exactly as it was left; but never what no
answer may hold (a NUL character, which PostgreSQL cannot store, or more than a field takes).

Every answer fits what the run data and its expressions hold: whole numbers are signed 64-bit
(CEL's int), decimals keep to their field's digits (no infinity, no 1e400), one-line text
has no line breaks (an answer may end up in an email header), text has a length bound.

The operator's forms of the run page live here too: reassigning a work item, and correcting
the answers of a completed step (`AnswersForm`, given to the run page by the interactive step
kind) while its run is stopped by an error.
"""

import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.template.loader import render_to_string
from django.utils import timezone

from orchestrator.expressions import INT64_MAX, INT64_MIN, ExpressionError, evaluate
from orchestrator.models import Field, Queue
from runs.forms import ReasonForm

T = Field.Type
YES_NO = [("yes", "Yes"), ("no", "No")]
# The most characters an answer of each text type takes; other types' raw values are bounded
# by RAW_LIMIT in the draft (no valid number, date or choice is that long).
LENGTH_LIMITS = {T.TEXT: 1000, T.LONG_TEXT: 10_000, T.EMAIL: 254, T.URL: 2000}
RAW_LIMIT = 1000
one_line = RegexValidator(
    r"[\r\n]", inverse_match=True, message="Keep this on one line, without line breaks."
)
NUMBER_ERRORS = {
    "min_value": "Enter a number no smaller than %(limit_value)s.",
    "max_value": "Enter a number no larger than %(limit_value)s.",
}


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full_name = obj.get_full_name()
        return f"{full_name} ({obj.get_username()})" if full_name else obj.get_username()


def _yes_no(value: str) -> bool:
    return value == "yes"


def _choice_error(field: Field) -> str:
    labels = [label for _, label in field.choice_pairs]
    if len(labels) > 1:
        return f"Choose {', '.join(labels[:-1])} or {labels[-1]}."
    return "Make a choice."


def _plain(number: decimal.Decimal) -> decimal.Decimal:
    """A bound as a person reads it: 5, not 5.0000000000 (nor 5E+0)."""
    integral = number.to_integral_value()
    return integral.quantize(decimal.Decimal(1)) if number == integral else number.normalize()


def _bounds(field: Field, low: Any = None, high: Any = None) -> dict[str, Any]:
    """The field's min and max value, within [low, high] when those are given."""
    if field.min_value is not None:
        low = field.min_value if low is None else max(low, field.min_value)
    if field.max_value is not None:
        high = field.max_value if high is None else min(high, field.max_value)
    return {
        "min_value": _plain(low) if isinstance(low, decimal.Decimal) else low,
        "max_value": _plain(high) if isinstance(high, decimal.Decimal) else high,
    }


def _form_field(field: Field) -> forms.Field:
    common = {"label": field.label, "required": field.required, "help_text": field.help_text}
    pairs = field.choice_pairs
    if field.type == T.LONG_TEXT:
        return forms.CharField(
            max_length=LENGTH_LIMITS[T.LONG_TEXT],
            widget=forms.Textarea(attrs={"rows": 4}),
            **common,
        )
    if field.type == T.INTEGER:
        return forms.IntegerField(
            **_bounds(field, INT64_MIN, INT64_MAX), error_messages=NUMBER_ERRORS, **common
        )
    if field.type == T.DECIMAL:
        return forms.DecimalField(
            max_digits=field.max_digits,
            decimal_places=field.decimal_places,
            widget=forms.NumberInput(attrs={"step": "any"}),
            error_messages=NUMBER_ERRORS,
            **_bounds(field),
            **common,
        )
    if field.type == T.DATE:
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common
        )
    if field.type == T.DATETIME:
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            **common,
        )
    if field.type == T.YES_NO:
        return forms.TypedChoiceField(
            choices=YES_NO,
            coerce=_yes_no,
            empty_value=None,
            widget=forms.RadioSelect,
            error_messages={"required": "Choose Yes or No."},
            **common,
        )
    if field.type == T.CHOICE:
        return forms.ChoiceField(choices=[("", "Choose…"), *pairs], **common)
    if field.type == T.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            choices=pairs, widget=forms.CheckboxSelectMultiple, **common
        )
    if field.type == T.EMAIL:
        return forms.EmailField(max_length=LENGTH_LIMITS[T.EMAIL], validators=[one_line], **common)
    if field.type == T.URL:
        return forms.URLField(
            max_length=LENGTH_LIMITS[T.URL], assume_scheme="https", validators=[one_line], **common
        )
    if field.type == T.USER:
        people = get_user_model().objects.filter(is_active=True)
        if field.limit_to_group_id:
            people = people.filter(groups=field.limit_to_group_id)
        return PersonChoiceField(
            queryset=people.order_by("first_name", "last_name", "username"),
            empty_label="Choose a person…",
            **common,
        )
    if field.type == T.DECISION:
        # Rendered as one submit button per choice (named by the key), never as an input.
        return forms.ChoiceField(
            choices=pairs,
            widget=forms.HiddenInput,
            error_messages={"required": _choice_error(field)},
            **common,
        )
    return forms.CharField(max_length=LENGTH_LIMITS[T.TEXT], validators=[one_line], **common)


class ScreenForm(forms.Form):
    """The fields of one screen, named by their keys."""

    def __init__(self, fields: Iterable[Field], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.screen_fields = list(fields)
        for field in self.screen_fields:
            self.fields[field.key] = _form_field(field)

    @property
    def decision(self) -> Field | None:
        """The screen's decision field: its choices replace the Next / Complete button."""
        return next((f for f in self.screen_fields if f.type == T.DECISION), None)

    @property
    def decision_errors(self) -> list[str]:
        decision = self.decision
        if decision is None or not self.is_bound:
            return []
        return list(self.errors.get(decision.key, []))

    def input_fields(self) -> list[forms.BoundField]:
        return [self[f.key] for f in self.screen_fields if f.type != T.DECISION]

    def focus_first_error(self) -> None:
        """Put the browser's focus on the first field with an error (htmx honours autofocus)."""
        for field in self.screen_fields:
            if field.key in self.errors and field.type != T.DECISION:
                self.fields[field.key].widget.attrs["autofocus"] = True
                return

    def answers(self) -> dict[str, Any]:
        """The cleaned values as run data (see the module docstring for each type)."""
        return {f.key: to_answer(f, self.cleaned_data.get(f.key)) for f in self.screen_fields}


def to_answer(field: Field, value: Any) -> Any:
    if value is None:
        return [] if field.type == T.MULTIPLE_CHOICE else None
    if field.type == T.DECIMAL and isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if field.type == T.USER:
        return value.pk
    if field.type == T.MULTIPLE_CHOICE:
        return [str(v) for v in value]
    return value


def raw_values(fields: Iterable[Field], data: Mapping) -> tuple[dict[str, Any], list[str]]:
    """What the user typed on a screen, as it came in, for the draft; and the keys of the
    fields whose value is too long to keep (left out: the draft keeps what it had). NUL
    characters are dropped. A decision is there only when its button was pressed (on a
    screen before the last, it is kept for Complete)."""
    values: dict[str, Any] = {}
    too_long: list[str] = []
    for field in fields:
        if field.type == T.DECISION:
            value = _without_nul(str(data.get(field.key, "")))
            if not value:
                continue
        elif field.type == T.MULTIPLE_CHOICE:
            items = data.getlist(field.key) if hasattr(data, "getlist") else []
            value = [_without_nul(str(item)) for item in items]
        else:
            value = _without_nul(str(data.get(field.key, "")))
        if _too_long(field, value):
            too_long.append(field.key)
        else:
            values[field.key] = value
    return values, too_long


def _without_nul(value: str) -> str:
    return value.replace("\x00", "")


def _too_long(field: Field, value: str | list[str]) -> bool:
    limit = LENGTH_LIMITS.get(field.type, RAW_LIMIT)
    if isinstance(value, list):
        return len(value) > len(field.choice_pairs) or any(len(item) > limit for item in value)
    return len(value) > limit


def initial_values(
    fields: Iterable[Field], draft: Mapping[str, Any], run_data: dict[str, Any]
) -> dict[str, Any]:
    """The values a screen opens with: the draft first; else the field's default evaluated
    over the run data (left empty when it cannot be evaluated, e.g. no earlier answer)."""
    initial: dict[str, Any] = {}
    for field in fields:
        if field.type == T.DECISION:
            continue
        if field.key in draft:
            initial[field.key] = draft[field.key]
        elif field.default.strip():
            try:
                value = evaluate(field.default, run_data)
            except ExpressionError:
                continue
            raw = _to_raw(field, value)
            if raw is not None:
                initial[field.key] = raw
    return initial


def _to_raw(field: Field, value: Any) -> Any:
    """An answer-like value (from a default) as the form input would hold it."""
    if value is None:
        return None
    if field.type == T.YES_NO:
        return "yes" if value is True else "no" if value is False else None
    if field.type == T.MULTIPLE_CHOICE:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if field.type == T.USER and isinstance(value, str) and not value.isdigit():
        pk = get_user_model().objects.filter(username=value).values_list("pk", flat=True).first()
        return str(pk) if pk is not None else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_data(fields: Iterable[Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """Raw values (a draft) as form data, to validate screens the user is not looking at."""
    return {f.key: values[f.key] for f in fields if f.key in values}


class AnswersForm(ScreenForm):
    """Every field of a step's screen flow on one form, opened with the answers the step run
    gave: an operator corrects them on the run page of a stopped run. Each field is the
    one the person filled in (same type, same checks), except that a decision is a choice of
    radio buttons rather than one submit button per choice. It renders itself (`{{ form }}`)
    with the project's templates: the same field markup as a work item's screen."""

    template_name = "workitems/answers_form.html"

    def __init__(self, fields: Iterable[Field], outputs: Mapping[str, Any], *args, **kwargs):
        fields = list(fields)
        initial = {f.key: _answer_as_initial(f, outputs[f.key]) for f in fields if f.key in outputs}
        super().__init__(fields, *args, initial=initial, **kwargs)
        for field in self.screen_fields:
            if field.type == T.DECISION:
                form_field = self.fields[field.key]
                form_field.widget = forms.RadioSelect(choices=form_field.choices)

    def input_fields(self) -> list[forms.BoundField]:
        return [self[f.key] for f in self.screen_fields]

    def render(self, template_name=None, context=None, renderer=None) -> str:
        # Django's form renderer looks in the apps' templates only, not in templates/.
        context = context or {
            "form": self,
            "input_fields": self.input_fields(),
            "non_field_errors": self.non_field_errors(),
        }
        return render_to_string(template_name or self.template_name, context)

    __str__ = __html__ = render


def _answer_as_initial(field: Field, value: Any) -> Any:
    """A stored answer as the form's initial value (dates as dates, for their inputs)."""
    if field.type == T.DATE and isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return value
    if field.type == T.DATETIME and isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        return timezone.localtime(moment) if timezone.is_aware(moment) else moment
    if field.type == T.DECISION:
        return None if value is None else str(value)
    return _to_raw(field, value)


class ReassignForm(ReasonForm):
    """An operator hands a work item to a user (by username) or to a queue, from the run
    page, saying why (the reason is kept in the run's event log)."""

    username = forms.CharField(label="To a person (username)", required=False, max_length=150)
    queue = forms.ModelChoiceField(
        label="Or to a queue",
        queryset=Queue.objects.order_by("name"),
        required=False,
        empty_label="No queue",
    )

    field_order = ["username", "queue", "reason"]

    def clean(self):
        cleaned = super().clean()
        username, queue = cleaned.get("username"), cleaned.get("queue")
        if bool(username) == bool(queue):
            raise forms.ValidationError("Choose either a person or a queue.")
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                self.add_error("username", f'There is no active user "{username}".')
            cleaned["user"] = user
        return cleaned
