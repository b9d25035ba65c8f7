"""The run engine: the only code that changes the state of runs, stage runs and step runs.

Every function here enters through one unit of work (runs/engine/unit.py):

    with run_transaction(run_id) as state:   # atomic + lock + read; flush + commit on exit
        ...guards and changes...

- errors.py: what the engine refuses, as sentences for business users;
- states.py: the step run state diagram;
- unit.py: the unit of work (and sql.py, begin.py: its fast path on PostgreSQL);
- advancing.py: launching, completing an interactive step, and advancing a run;
- background.py: background attempts, retries, timers, child runs, time-outs;
- operator.py: retry, skip and cancel; correcting answers and retrying a stopped run;
  and events that change no state;
- failures.py: the sentences a run stops with when its data cannot be read;
- data.py: the run data expressions and templates see.
"""

from runs.engine.advancing import complete_step, launch
from runs.engine.background import (
    execute_attempt,
    fire_timer,
    record_attempt,
    resume_parent,
    time_out_attempt,
)
from runs.engine.data import run_data
from runs.engine.errors import (
    AnswersInvalid,
    AnswersNotCorrectable,
    CompletionRefused,
    EngineError,
    OrchestrationNotFound,
    RecordRefused,
    RunNotActive,
    RunNotFound,
    RunNotRetryable,
    StepNotFound,
    StepNotRetryable,
    StepNotWaiting,
)
from runs.engine.operator import (
    cancel_run,
    correct_answers,
    record_event,
    retry_run,
    retry_step,
    skip_step,
)
from runs.engine.states import STEP_DONE, STEP_OPEN, STEP_TRANSITIONS
from runs.engine.unit import RunState, run_transaction

__all__ = [
    "STEP_DONE",
    "STEP_OPEN",
    "STEP_TRANSITIONS",
    "AnswersInvalid",
    "AnswersNotCorrectable",
    "CompletionRefused",
    "EngineError",
    "OrchestrationNotFound",
    "RecordRefused",
    "RunNotActive",
    "RunNotFound",
    "RunNotRetryable",
    "RunState",
    "StepNotFound",
    "StepNotRetryable",
    "StepNotWaiting",
    "cancel_run",
    "complete_step",
    "correct_answers",
    "execute_attempt",
    "fire_timer",
    "launch",
    "record_attempt",
    "record_event",
    "resume_parent",
    "retry_run",
    "retry_step",
    "run_data",
    "run_transaction",
    "skip_step",
    "time_out_attempt",
]
