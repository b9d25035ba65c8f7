"""Forms of the run history dashboard: the run list filters and the operator's reason."""

import datetime

from django import forms
from django.core.exceptions import ValidationError

from orchestrator.models import Orchestration
from runs.models import Run
from runs.selectors.list_page import RunFilters

# The dates a filter may name: the day after the last one, or a day in another time zone,
# is still a date Python and the database hold (9999-12-31 plus a day is not).
FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


def in_date_range(value: datetime.date) -> None:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValidationError(
            f"Enter a date between {FIRST_DATE.year} and {LAST_DATE.year}.", code="out_of_range"
        )


class RunFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="A related record (e.g. a name) or a run number.",
    )
    orchestration = forms.ModelChoiceField(
        label="Orchestration",
        queryset=Orchestration.objects.order_by("name"),
        to_field_name="key",
        required=False,
        empty_label="All orchestrations",
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Run.Status.choices]
    )
    started_from = forms.DateField(
        label="Started from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[in_date_range],
    )
    started_to = forms.DateField(
        label="Started until",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[in_date_range],
    )
    overdue = forms.BooleanField(label="Has an overdue step", required=False)
    failed = forms.BooleanField(label="Has a failed step", required=False)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("started_from"), cleaned.get("started_to")
        if start and end and start > end:
            self.add_error("started_to", "The end date must not be before the start date.")
        return cleaned

    def filters(self) -> RunFilters:
        """The filters to apply: those that are valid (an invalid one is ignored and shown
        with its error beside the field)."""
        data = self.cleaned_data if self.is_bound else {}
        return RunFilters(
            orchestration=data.get("orchestration"),
            status=data.get("status") or "",
            started_from=data.get("started_from"),
            started_to=data.get("started_to"),
            overdue=bool(data.get("overdue")),
            failed=bool(data.get("failed")),
            q=(data.get("q") or "").strip(),
        )


class ReasonForm(forms.Form):
    """Every operator action asks why; the reason is kept in the run's event log."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why, so that others can follow the run's history."},
    )
