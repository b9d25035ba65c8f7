"""Each validation rule: a definition that breaks it, and the sentence the admin reads."""

import pytest

from orchestrator.models import Field, Screen, ScreenFlow, Stage, StageRoute, Step
from orchestrator.specs import FieldSpec, OrchestrationSpec, StageSpec, StepSpec, build
from orchestrator.validation import Definition, check_duplicate_keys, validate_version
from tests.orchestrator.flows import request_and_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return build(request_and_review(), activate=False)


def other_version():
    return build(request_and_review("other", "Other"), activate=False)


def step(version, key) -> Step:
    return version.steps.get(key=key)


def stage(version, key) -> Stage:
    return version.stages.get(key=key)


def test_valid_version_has_no_problems(version):
    assert validate_version(version) == []


def test_version_without_stages():
    assert validate_version(build(OrchestrationSpec("empty"), activate=False)) == [
        "This version has no stages; add at least one stage with a step."
    ]


def test_stage_without_steps(version):
    Stage.objects.create(version=version, position=2, key="archive", label="Archive")

    assert validate_version(version) == [
        'Stage "Archive" has no steps; every stage needs at least one step.'
    ]


def test_duplicate_field_keys_in_one_screen_flow(version):
    flow = version.screen_flows.get(key="request_form")
    second = Screen.objects.create(flow=flow, position=2, title="More")
    Field.objects.create(screen=second, key="amount", label="Amount", type=Field.Type.INTEGER)

    assert validate_version(version) == [
        'Screen flow "Request form" has two fields with the key "amount"; each answer is stored '
        "under its field's key, so the keys must differ."
    ]


def test_same_field_key_in_two_screen_flows_is_fine(version):
    screen = version.screen_flows.get(key="decide").screens.get()
    Field.objects.create(screen=screen, key="amount", label="Amount")

    assert validate_version(version) == []


def test_duplicate_stage_step_and_flow_keys():
    # The database refuses these at save; the check still names them (e.g. for an import).
    definition = Definition(
        version=None,
        stages=[Stage(key="review"), Stage(key="review")],
        routes=[],
        steps=[Step(key="check"), Step(key="check")],
        flows=[ScreenFlow(key="form"), ScreenFlow(key="form")],
        screens=[],
        fields=[],
    )

    assert list(check_duplicate_keys(definition)) == [
        'Two stages use the key "review"; each stage needs its own key.',
        'Two steps use the key "check"; each step needs its own key.',
        'Two screen flows use the key "form"; each screen flow needs its own key.',
    ]


@pytest.mark.parametrize(
    ("key", "meaning"),
    [("input", "the launch inputs"), ("record", "the related record"), ("run", "the run itself")],
)
def test_reserved_step_key(version, key, meaning):
    Step.objects.create(
        version=version,
        stage=stage(version, "review"),
        position=2,
        key=key,
        label="Odd",
        kind=Step.Kind.BACKGROUND,
        action="log",
        parameters={"message": "Hello"},
    )

    assert validate_version(version) == [
        f'Step "Odd" uses the key "{key}", which expressions use for {meaning}; choose another key.'
    ]


def test_dependency_on_a_step_of_another_stage(version):
    step(version, "check").depends_on.add(step(version, "request_form"))

    assert validate_version(version) == [
        'Step "Check" depends on "Request form", which is in stage "Request"; a step can only '
        'depend on steps of its own stage ("Review").'
    ]


def test_dependency_cycle_names_the_steps(version):
    notify = Step.objects.create(
        version=version,
        stage=stage(version, "review"),
        position=2,
        key="notify",
        label="Notify",
        kind=Step.Kind.BACKGROUND,
        action="log",
        parameters={"message": "Hello"},
    )
    notify.depends_on.add(step(version, "decide"))
    step(version, "check").depends_on.add(notify)

    assert validate_version(version) == [
        'Steps "Check", "Decide" and "Notify" depend on each other in a cycle, so none of '
        "them could ever start; remove one of these dependencies."
    ]


def test_step_depending_on_itself(version):
    check = step(version, "check")
    check.depends_on.add(check)

    assert validate_version(version) == ['Step "Check" depends on itself; remove that dependency.']


def test_step_in_a_stage_of_another_version(version):
    other = other_version()
    Step.objects.filter(pk=step(version, "check").pk).update(stage=stage(other, "review"))

    problems = validate_version(version)

    assert 'Step "Check" is in stage "Review" of another version.' in problems


@pytest.mark.parametrize(
    ("model", "attribute", "where"),
    [
        ("stage", "entry_condition", 'The entry condition of stage "Review"'),
        ("stage", "exit_condition", 'The exit condition of stage "Review"'),
        ("route", "condition", 'The condition of route 1 of stage "Review"'),
        ("step", "entry_condition", 'The entry condition of step "Decide"'),
        ("step", "assignee_expression", 'The assignee expression of step "Decide"'),
        (
            "field",
            "default",
            'The default of field "Amount" on screen "Details" of screen flow "Request form"',
        ),
    ],
)
def test_invalid_expression_names_where_and_what_the_parser_says(version, model, attribute, where):
    row = {
        "stage": lambda: stage(version, "review"),
        "route": lambda: StageRoute.objects.filter(stage__key="review").first(),
        "step": lambda: step(version, "decide"),
        "field": lambda: Field.objects.get(screen__flow__version=version, key="amount"),
    }[model]()
    setattr(row, attribute, "input.amount >")
    row.save()

    assert validate_version(version) == [
        f"{where} is not a valid expression: input.amount > (the parser stopped at character 14)."
    ]


def test_invalid_instructions_template(version):
    Step.objects.filter(pk=step(version, "decide").pk).update(instructions="{% if x %}open")

    assert validate_version(version) == [
        'The instructions of step "Decide" are not a valid template: Unclosed tag on line 1: '
        "'if'. Looking for one of: elif, else, endif."
    ]


@pytest.mark.parametrize("tag", ["debug", "load", "include"])
def test_instructions_with_a_tag_that_is_not_allowed(version, tag):
    Step.objects.filter(pk=step(version, "decide").pk).update(instructions=f"Hi {{% {tag} x %}}")

    assert validate_version(version) == [
        f'The instructions of step "Decide" are not a valid template: The tag {{% {tag} %}} is '
        "not allowed in a template; use only these tags: comment, cycle, firstof, for, if, "
        "ifchanged, now, regroup, resetcycle, templatetag, verbatim, widthratio, with."
    ]


def test_interactive_step_without_assignee(version):
    Step.objects.filter(key="decide").update(assignee_type="")

    assert validate_version(version) == [
        'Interactive step "Decide" has no assignee; choose a user, a queue, a group, the person '
        "who started the run, or an expression."
    ]


@pytest.mark.parametrize(
    ("assignee_type", "sentence"),
    [
        ("user", "a user, but the user"),
        ("queue", "a queue, but the queue"),
        ("group", "a group, but the group"),
        ("expression", "an expression, but the expression"),
    ],
)
def test_assignee_type_without_its_assignee(version, assignee_type, sentence):
    Step.objects.filter(key="decide").update(assignee_type=assignee_type)

    assert validate_version(version) == [f'Step "Decide" is assigned to {sentence} is not set.']


def test_interactive_step_with_its_assignee_is_fine(assignee, queue, group):
    steps = [
        StepSpec("form", assignee=assignee),
        StepSpec("it", assignee=queue),
        StepSpec("fac", assignee=group),
        StepSpec("boss", assignee="expression:input.manager"),
    ]
    version = build(
        OrchestrationSpec("assignees", stages=[StageSpec("work", steps=steps)]), activate=False
    )

    assert validate_version(version) == []


def test_interactive_step_without_screen_flow(version):
    Step.objects.create(
        version=version,
        stage=stage(version, "review"),
        position=2,
        key="sign",
        label="Sign",
        assignee_type=Step.AssigneeType.STARTER,
    )

    assert validate_version(version) == [
        'Interactive step "Sign" has no screen flow; choose the form it shows.'
    ]


def test_interactive_step_with_screen_flow_of_another_version(version):
    other = other_version()
    Step.objects.filter(pk=step(version, "decide").pk).update(
        screen_flow=other.screen_flows.get(key="decide")
    )

    assert validate_version(version) == [
        'Interactive step "Decide" uses screen flow "Decide" of another version; choose one of '
        "this version."
    ]


def test_background_step_without_action(version):
    Step.objects.filter(key="check").update(action="", parameters={})

    (problem,) = validate_version(version)
    assert problem.startswith(
        'Background step "Check" has no action; choose one of the known actions: '
    )
    assert "send_email" in problem


def test_unknown_action_lists_the_known_ones(version):
    Step.objects.filter(key="check").update(action="send_fax")

    (problem,) = validate_version(version)
    assert problem.startswith('Step "Check" uses the unknown action "send_fax"; the known ')
    assert "http_request, launch_orchestration, log, send_email" in problem


def test_action_parameters_checked_by_the_action(version):
    Step.objects.filter(key="check").update(parameters={"level": 3, "colour": "red"})

    assert validate_version(version) == [
        'Step "Check": Action "log" has no parameter "colour" (it takes: level, message).',
        'Step "Check": Action "log" needs the parameter "message".',
        'Step "Check": Parameter "level" of action "log" has the wrong type.',
    ]


def test_action_parameter_with_invalid_expression(version):
    Step.objects.filter(key="check").update(parameters={"message": "=input.name +"})

    assert validate_version(version) == [
        'Parameter "message" of step "Check" is not valid: input.name + (the parser stopped at '
        "character 12)."
    ]


def test_action_parameter_with_invalid_template(version):
    Step.objects.filter(key="check").update(parameters={"message": "Hi {{ input.name|shout }}"})

    [message] = validate_version(version)
    assert message.startswith(
        'Parameter "message" of step "Check" is not valid: The filter "shout" is not allowed in '
        "a template; use only these filters: add, capfirst,"
    )


def test_a_line_break_in_an_email_header_parameter(version):
    parameters = {
        "to": ["ana@example.com", "bo@example.com\nBcc: all@example.com"],
        "subject": "Hello\r\n{{ input.name }}",
        "body": "Line one\nLine two",  # the body may have line breaks
        "cc": "=input.cc +\n'@example.com'",  # an expression may span lines
    }
    Step.objects.filter(key="check").update(action="send_email", parameters=parameters)

    assert validate_version(version) == [
        'Step "Check": Parameter "to" of action "send_email" must be one line; remove its line '
        "breaks.",
        'Step "Check": Parameter "subject" of action "send_email" must be one line; remove its '
        "line breaks.",
    ]


def test_route_go_to_without_target(version):
    StageRoute.objects.create(stage=stage(version, "request"), action="go_to", target_stage=None)

    assert validate_version(version) == [
        'Route 1 of stage "Request" says "go to stage" but names no stage; choose the target stage.'
    ]


def test_route_to_a_stage_of_another_version(version):
    other = other_version()
    StageRoute.objects.create(stage=stage(version, "request"), target_stage=stage(other, "review"))

    assert validate_version(version) == [
        'Route 1 of stage "Request" goes to stage "Review" of another version; choose a stage '
        "of this version."
    ]


def test_route_that_ends_the_run_needs_no_target(version):
    StageRoute.objects.create(stage=stage(version, "request"), action="end", outcome="withdrawn")

    assert validate_version(version) == []


@pytest.mark.parametrize(
    ("field_type", "name"),
    [("choice", "choice"), ("multiple_choice", "multiple choice"), ("decision", "decision")],
)
def test_choice_field_without_choices(version, field_type, name):
    screen = version.screen_flows.get(key="request_form").screens.get()
    Field.objects.create(screen=screen, key="pick", label="Pick", type=field_type, choices=[])

    assert validate_version(version) == [
        f'Field "Pick" on screen "Details" of screen flow "Request form" is a {name} field but has '
        'no choices; add them as a list of {"value": ..., "label": ...}.'
    ]


def test_choice_without_value_and_repeated_choice(version):
    screen = version.screen_flows.get(key="request_form").screens.get()
    Field.objects.create(
        screen=screen, key="pick", label="Pick", type="choice", choices=[{"label": "Nothing"}]
    )
    Field.objects.create(
        screen=screen, key="again", label="Again", type="choice", choices=["a", {"value": "a"}]
    )

    assert validate_version(version) == [
        'Field "Pick" on screen "Details" of screen flow "Request form" has a choice without a '
        'value; each choice needs a "value".',
        'Field "Again" on screen "Details" of screen flow "Request form" offers the choice "a" '
        "twice; each choice needs its own value.",
    ]


@pytest.mark.parametrize(
    ("field_type", "settings", "problem"),
    [
        ("decimal", {"max_digits": 0}, "allows 0 digits; choose between 1 and 30."),
        ("decimal", {"max_digits": 31}, "allows 31 digits; choose between 1 and 30."),
        (
            "decimal",
            {"max_digits": 4, "decimal_places": 5},
            "has 5 digits after the point but only 4 in all; allow more digits or fewer after "
            "the point.",
        ),
        (
            "integer",
            {"min_value": 10, "max_value": 1},
            "has a smallest answer larger than its largest; swap them.",
        ),
        (
            "integer",
            {"max_value": 2**63},
            "has a bound expressions cannot hold; whole numbers go from "
            "-9,223,372,036,854,775,808 to 9,223,372,036,854,775,807.",
        ),
    ],
)
def test_number_field_bounds(version, field_type, settings, problem):
    screen = version.screen_flows.get(key="request_form").screens.get()
    Field.objects.create(screen=screen, key="n", label="N", type=field_type, **settings)

    assert validate_version(version) == [
        f'Field "N" on screen "Details" of screen flow "Request form" {problem}'
    ]


def test_number_field_within_bounds_is_fine(version):
    screen = version.screen_flows.get(key="request_form").screens.get()
    Field.objects.create(
        screen=screen, key="n", label="N", type="decimal", max_digits=30, decimal_places=30
    )
    Field.objects.create(
        screen=screen, key="m", label="M", type="integer", min_value=-(10**15), max_value=5
    )

    assert validate_version(version) == []


def test_screen_flow_without_screens(version):
    ScreenFlow.objects.create(version=version, key="empty", label="Empty")

    assert validate_version(version) == [
        'Screen flow "Empty" has no screens; add at least one screen.'
    ]


def test_every_problem_is_reported_at_once(version):
    Stage.objects.create(version=version, position=2, key="archive", label="Archive")
    Step.objects.filter(key="check").update(action="send_fax")
    spare = ScreenFlow.objects.create(version=version, key="spare", label="Spare")
    Screen.objects.create(flow=spare, title="Details")
    Stage.objects.filter(key="review").update(exit_condition="(")

    assert len(validate_version(version)) == 3


# Separation of duties and confidential fields ---------------------------------------------------


def duties(approve: StepSpec, *, same_stage: bool = False):
    form = StepSpec("form", "Form", assignee="starter", fields=[FieldSpec("amount")])
    stages = (
        [StageSpec("one", steps=[form, approve])]
        if same_stage
        else [StageSpec("one", steps=[form]), StageSpec("two", steps=[approve])]
    )
    return build(OrchestrationSpec("duties", stages=stages), activate=False)


def test_excluding_the_completers_of_an_earlier_step_is_valid(assignee):
    approve = StepSpec("approve", "Approve", assignee="user:ana", exclude_completers_of=["form"])
    assert validate_version(duties(approve)) == []


def test_excluding_the_completers_of_a_step_that_does_not_come_before_is_refused(assignee):
    approve = StepSpec("approve", "Approve", assignee="user:ana", exclude_completers_of=["form"])

    assert validate_version(duties(approve, same_stage=True)) == [
        'Step "Approve" excludes whoever completed "Form", which does not come before it; '
        "name only steps of earlier stages, or steps of its own stage it depends on."
    ]
    depending = StepSpec(
        "approve",
        "Approve",
        assignee="user:ana",
        exclude_completers_of=["form"],
        depends_on=["form"],
    )
    assert validate_version(duties(depending, same_stage=True)) == []


def test_a_step_for_the_starter_cannot_exclude_the_starter():
    approve = StepSpec("approve", "Approve", assignee="starter", exclude_starter=True)

    assert validate_version(duties(approve)) == [
        'Step "Approve" is for the person who started the run but also excludes them; '
        "choose another assignee or remove the exclusion."
    ]


def test_a_field_naming_readers_must_be_confidential():
    form = StepSpec("form", "Form", assignee="starter", fields=[FieldSpec("amount")])
    approve = StepSpec(
        "approve", "Approve", assignee="starter", fields=[FieldSpec("note", visible_to=["form"])]
    )
    version = build(
        OrchestrationSpec(
            "open", stages=[StageSpec("one", steps=[form]), StageSpec("two", steps=[approve])]
        ),
        activate=False,
    )

    assert validate_version(version) == [
        'Field "Note" on screen "Approve" of screen flow "Approve" names steps that may see it '
        "but is not confidential, so everyone sees it; tick Confidential or remove the steps."
    ]
