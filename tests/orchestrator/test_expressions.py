"""CEL expressions over run data (orchestrator/expressions.py)."""

import pytest

from orchestrator.expressions import MissingData, condition_holds, evaluate

DATA = {
    "input": {"amount": 60000.0},
    "run": {"id": 7, "started_by": "hr"},
    "underwriting": {"decision": "approve"},
    "new_hire_form": {},  # a step that has not answered yet
}


def test_an_expression_reads_the_run_data_it_names():
    assert evaluate("input.amount * 2.0", DATA) == 120000.0
    assert condition_holds('underwriting.decision == "approve" && run.id == 7', DATA)
    assert evaluate("[input.amount, run.started_by].size()", DATA) == 2


def test_data_the_expression_does_not_name_is_not_converted():
    # Only what is named becomes CEL values: an unrelated value CEL cannot hold is no error.
    data = {**DATA, "other_step": {"file": object()}}
    assert evaluate("input.amount > 50000.0", data) is True


def test_reading_an_answer_not_given_yet_is_missing_data():
    with pytest.raises(MissingData):
        evaluate("new_hire_form.manager", DATA)
    with pytest.raises(MissingData):
        evaluate("nobody.answered", DATA)
