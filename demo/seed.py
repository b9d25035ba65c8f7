"""The demo: its cast (users, groups, the IT queue) and four orchestrations, and `seed_demo()`
which creates them idempotently (`python manage.py seed_demo`).

Each orchestration is a small declarative description below (the specs of
orchestrator/specs.py); its builder turns a description into a draft version, which the seed
activates (which validates it). An orchestration
that already has an active version keeps it: the seed never replaces someone's edits.
"""

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from orchestrator.models import Field, Orchestration, Queue, Step
from orchestrator.specs import (
    APPROVE,
    COMMENT,
    REJECT,
    FieldSpec,
    OrchestrationSpec,
    RouteSpec,
    ScreenSpec,
    StageSpec,
    StepSpec,
    build_version,
    choice,
    decision,
)

PASSWORD = "demo"

# The cast --------------------------------------------------------------------------------

# username -> first name. Every user's password is "demo", email <username>@example.com.
USERS = {
    "admin": "Admin",
    "hr": "HR",
    "it": "IT",
    "it2": "IT 2",
    "facilities": "Facilities",
    "facilities2": "Facilities 2",
    "manager": "Manager",
    "applicant": "Applicant",
    "underwriter": "Underwriter",
    "compliance": "Compliance",
    "funding": "Funding",
    "author": "Author",
    "editor": "Editor",
    "legal": "Legal",
    "marketing": "Marketing",
    "engineering": "Engineering",
    "sales": "Sales",
}
# The operator: a superuser who designs orchestrations and watches runs.
SUPERUSERS = {"admin"}

# Group name -> members. Facilities is an assignee group; the others start orchestrations.
GROUPS = {
    "HR": ["hr"],
    "Facilities": ["facilities", "facilities2"],
    "Applicants": ["applicant"],
    "Authors": ["author"],
    "Product": ["engineering", "marketing", "sales"],
}

# Queue key -> (name, members): one member claims an item, then owns it.
QUEUES = {"it": ("IT", ["it", "it2"])}


# What the four share ---------------------------------------------------------------------


DAY = datetime.timedelta(days=1)


# The four orchestrations -----------------------------------------------------------------

EMPLOYEE_ONBOARDING = OrchestrationSpec(
    key="employee-onboarding",
    name="Employee onboarding",
    description=(
        "HR enters a new hire; IT, Facilities and payroll get them ready in parallel; their "
        "manager approves; a welcome email goes out."
    ),
    starter_groups=("HR",),
    stages=(
        StageSpec(
            "hire",
            "New hire",
            steps=(
                StepSpec(
                    "new_hire_form",
                    "New hire form",
                    assignee="starter",
                    # The answers create the run's Employee (field keys are its field names).
                    creates_record="demo.Employee",
                    due_in=2 * DAY,
                    remind_every=DAY,
                    screens=(
                        ScreenSpec(
                            "Who is joining",
                            (
                                FieldSpec("full_name", "Full name"),
                                FieldSpec("email", "Email", Field.Type.EMAIL),
                                FieldSpec("start_date", "Start date", Field.Type.DATE),
                            ),
                        ),
                        ScreenSpec(
                            "The position",
                            (
                                FieldSpec(
                                    "department",
                                    "Department",
                                    Field.Type.CHOICE,
                                    choices=choice(
                                        "Engineering", "Sales", "Marketing", "Finance", "Operations"
                                    ),
                                ),
                                FieldSpec("job_title", "Job title"),
                                FieldSpec(
                                    "manager",
                                    "Manager",
                                    Field.Type.USER,
                                    help_text="They approve the onboarding.",
                                ),
                                FieldSpec(
                                    "annual_salary",
                                    "Annual salary",
                                    Field.Type.DECIMAL,
                                    # Only HR and the approving manager (and operators) see it.
                                    confidential=True,
                                    visible_to=("manager_approval",),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        StageSpec(
            "provision",
            "Provisioning",
            steps=(
                StepSpec(
                    "provision_it",
                    "Provision laptop and accounts",
                    assignee="queue:it",
                    instructions=(
                        "{{ new_hire_form.full_name }} starts as {{ new_hire_form.job_title }} "
                        "in {{ new_hire_form.department }} on {{ new_hire_form.start_date }}."
                    ),
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec(
                            "laptop_model",
                            "Laptop model",
                            Field.Type.CHOICE,
                            choices=choice("MacBook Pro 14", "ThinkPad X1 Carbon", "Dell XPS 13"),
                        ),
                        FieldSpec("accounts_created", "Accounts created", Field.Type.YES_NO),
                        FieldSpec("asset_tag", "Asset tag"),
                    ),
                ),
                StepSpec(
                    "assign_desk",
                    "Assign desk",
                    assignee="group:Facilities",
                    instructions=(
                        "{{ new_hire_form.full_name }} joins {{ new_hire_form.department }} on "
                        "{{ new_hire_form.start_date }}."
                    ),
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec("building", "Building"),
                        FieldSpec("desk_number", "Desk number"),
                    ),
                ),
                StepSpec("setup_payroll", "Set up payroll", action="demo_payroll_setup"),
            ),
        ),
        StageSpec(
            "approval",
            "Manager approval",
            steps=(
                StepSpec(
                    "manager_approval",
                    "Manager approval",
                    # The manager picked on the HR form (a user id), who must not be the
                    # person who filled it in.
                    assignee="expression:new_hire_form.manager",
                    exclude_completers_of=("new_hire_form",),
                    instructions=(
                        "Please approve {{ new_hire_form.full_name }} "
                        "({{ new_hire_form.job_title }}, {{ new_hire_form.department }}), "
                        "starting on {{ new_hire_form.start_date }}.\n"
                        "IT: {{ provision_it.laptop_model }}, asset tag "
                        "{{ provision_it.asset_tag }}, accounts "
                        "{{ provision_it.accounts_created|yesno:'created,not created yet' }}.\n"
                        "Facilities: desk {{ assign_desk.desk_number }} in "
                        "{{ assign_desk.building }}."
                    ),
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(decision(APPROVE, REJECT), COMMENT),
                ),
            ),
            routes=(RouteSpec('manager_approval.decision == "reject"', end="rejected"),),
        ),
        StageSpec(
            "welcome",
            "Welcome",
            steps=(
                StepSpec(
                    "send_welcome_email",
                    "Send welcome email",
                    action="send_email",
                    parameters={
                        "to": "{{ new_hire_form.email }}",
                        "subject": "Welcome to the team, {{ new_hire_form.full_name }}!",
                        "body": (
                            "Hello {{ new_hire_form.full_name }},\n\n"
                            "Welcome aboard! You start on {{ new_hire_form.start_date }} as "
                            "{{ new_hire_form.job_title }}.\n"
                            "Your desk is {{ assign_desk.desk_number }} in "
                            "{{ assign_desk.building }}, and your "
                            "{{ provision_it.laptop_model }} will be waiting for you.\n\n"
                            "See you soon!"
                        ),
                    },
                ),
            ),
        ),
    ),
)

LOAN_APPROVAL = OrchestrationSpec(
    key="loan-approval",
    name="Loan approval",
    description=(
        "An applicant applies; underwriting approves, rejects or asks for more information; "
        "compliance reviews loans above 50,000; funding pays out."
    ),
    starter_groups=("Applicants",),
    stages=(
        StageSpec(
            "application",
            "Application",
            steps=(
                StepSpec(
                    "application",
                    "Loan application",
                    assignee="starter",
                    instructions=(
                        "{% if underwriting.comment %}The underwriter asks: "
                        "{{ underwriting.comment }}{% endif %}"
                    ),
                    due_in=3 * DAY,
                    remind_every=DAY,
                    # On rework the applicant sees what they entered before; the first time
                    # there is no answer yet and the fields start empty.
                    fields=(
                        FieldSpec(
                            "applicant_name", "Applicant name", default="application.applicant_name"
                        ),
                        FieldSpec(
                            "amount", "Amount", Field.Type.DECIMAL, default="application.amount"
                        ),
                        FieldSpec(
                            "purpose",
                            "Purpose",
                            Field.Type.LONG_TEXT,
                            default="application.purpose",
                        ),
                    ),
                ),
            ),
        ),
        StageSpec(
            "underwriting",
            "Underwriting",
            steps=(
                StepSpec(
                    "underwriting",
                    "Underwriting review",
                    assignee="user:underwriter",
                    # The applicant may never review their own loan, even if handed it.
                    exclude_starter=True,
                    instructions=(
                        "{{ application.applicant_name }} asks for {{ application.amount }} "
                        "for: {{ application.purpose }}"
                    ),
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(
                        decision(APPROVE, REJECT, ("more_info", "Ask for more information")),
                        COMMENT,
                    ),
                ),
            ),
            routes=(
                RouteSpec('underwriting.decision == "reject"', end="rejected"),
                RouteSpec('underwriting.decision == "more_info"', go_to="application"),
            ),
        ),
        StageSpec(
            "compliance",
            "Compliance",
            entry_condition="application.amount > 50000.0",
            steps=(
                StepSpec(
                    "compliance_review",
                    "Compliance review",
                    assignee="user:compliance",
                    instructions=(
                        "{{ application.applicant_name }} asks for {{ application.amount }} "
                        "for: {{ application.purpose }}. Underwriting approved it."
                    ),
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(decision(APPROVE, REJECT), COMMENT),
                ),
            ),
            routes=(RouteSpec('compliance_review.decision == "reject"', end="rejected"),),
        ),
        StageSpec(
            "funding",
            "Funding",
            steps=(
                StepSpec(
                    "funding",
                    "Fund the loan",
                    assignee="user:funding",
                    instructions=(
                        "Pay {{ application.amount }} to {{ application.applicant_name }}."
                    ),
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec("funded_on", "Funded on", Field.Type.DATE),
                        FieldSpec("reference", "Transfer reference"),
                    ),
                ),
            ),
            routes=(RouteSpec(end="approved"),),
        ),
    ),
)

CONTENT_PUBLISHING = OrchestrationSpec(
    key="content-publishing",
    name="Content publishing",
    description="An author drafts; an editor reviews; legal approves; marketing publishes.",
    starter_groups=("Authors",),
    stages=(
        StageSpec(
            "draft",
            "Draft",
            steps=(
                StepSpec(
                    "draft",
                    "Write the draft",
                    assignee="starter",
                    instructions=(
                        "{% if editorial_review.comment %}The editor asks: "
                        "{{ editorial_review.comment }}{% endif %}"
                    ),
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec("title", "Title", default="draft.title"),
                        FieldSpec("body", "Body", Field.Type.LONG_TEXT, default="draft.body"),
                    ),
                ),
            ),
        ),
        StageSpec(
            "review",
            "Editorial review",
            steps=(
                StepSpec(
                    "editorial_review",
                    "Editorial review",
                    assignee="user:editor",
                    instructions="Review \u201c{{ draft.title }}\u201d:\n\n{{ draft.body }}",
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(decision(APPROVE, ("changes", "Request changes")), COMMENT),
                ),
            ),
            routes=(RouteSpec('editorial_review.decision == "changes"', go_to="draft"),),
        ),
        StageSpec(
            "legal",
            "Legal",
            steps=(
                StepSpec(
                    "legal_review",
                    "Legal review",
                    assignee="user:legal",
                    instructions="Check \u201c{{ draft.title }}\u201d:\n\n{{ draft.body }}",
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(decision(APPROVE, REJECT), COMMENT),
                ),
            ),
            routes=(RouteSpec('legal_review.decision == "reject"', end="rejected"),),
        ),
        StageSpec(
            "publish",
            "Publish",
            steps=(
                StepSpec(
                    "publish",
                    "Publish",
                    assignee="user:marketing",
                    instructions="Publish \u201c{{ draft.title }}\u201d.",
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec("publish_on", "Publish on", Field.Type.DATE),
                        FieldSpec(
                            "channel",
                            "Channel",
                            Field.Type.CHOICE,
                            choices=choice("Blog", "Newsletter", "Social media"),
                        ),
                    ),
                ),
                StepSpec(
                    "announce",
                    "Announce publication",
                    action="log",
                    parameters={
                        "message": (
                            "\u201c{{ draft.title }}\u201d goes out on {{ publish.channel }} "
                            "on {{ publish.publish_on }}."
                        )
                    },
                    depends_on=("publish",),
                ),
            ),
            routes=(RouteSpec(end="published"),),
        ),
    ),
)

PRODUCT_LAUNCH = OrchestrationSpec(
    key="product-launch",
    name="Product launch",
    description=(
        "Engineering, marketing and sales get ready in parallel, then the manager decides "
        "whether to launch."
    ),
    starter_groups=("Product",),
    stages=(
        StageSpec(
            "readiness",
            "Readiness",
            steps=(
                StepSpec(
                    "engineering",
                    "Engineering sign-off",
                    assignee="user:engineering",
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(
                        FieldSpec("build_version", "Build version"),
                        FieldSpec("tests_passed", "Tests passed", Field.Type.YES_NO),
                    ),
                ),
                StepSpec(
                    "marketing",
                    "Marketing plan",
                    assignee="user:marketing",
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(FieldSpec("campaign", "Campaign"),),
                ),
                StepSpec(
                    "sales",
                    "Sales enablement",
                    assignee="user:sales",
                    due_in=3 * DAY,
                    remind_every=DAY,
                    fields=(FieldSpec("training_done", "Training done", Field.Type.YES_NO),),
                ),
            ),
        ),
        StageSpec(
            "gate",
            "Launch gate",
            steps=(
                StepSpec(
                    "ready_to_launch",
                    "Ready to launch",
                    assignee="user:manager",
                    instructions=(
                        "Engineering: build {{ engineering.build_version }}, tests "
                        "{{ engineering.tests_passed|yesno:'passed,not passed' }}.\n"
                        "Marketing: {{ marketing.campaign }}.\n"
                        "Sales: training {{ sales.training_done|yesno:'done,not done' }}."
                    ),
                    due_in=2 * DAY,
                    remind_every=DAY,
                    fields=(decision(("go", "Launch"), ("hold", "Hold")), COMMENT),
                ),
            ),
            routes=(
                RouteSpec('ready_to_launch.decision == "hold"', go_to="readiness", max_repeats=2),
                RouteSpec('ready_to_launch.decision == "go"', end="launched"),
            ),
        ),
    ),
)

ORCHESTRATIONS = (EMPLOYEE_ONBOARDING, LOAN_APPROVAL, CONTENT_PUBLISHING, PRODUCT_LAUNCH)


def who_does_what() -> dict[str, list[str]]:
    """For the printed logins: per username, what they start and the steps they work on."""
    starts: dict[str, list[str]] = {username: [] for username in USERS}
    works_on: dict[str, list[str]] = {username: [] for username in USERS}
    for spec in ORCHESTRATIONS:
        for name in spec.starter_groups:
            for username in GROUPS[name]:
                starts[username].append(f"starts {spec.name}")
        for stage in spec.stages:
            for step in stage.steps:
                kind, _, target = step.assignee.partition(":")
                if kind == Step.AssigneeType.USER:
                    works_on[target].append(step.label)
                elif kind == Step.AssigneeType.GROUP:
                    for username in GROUPS[target]:
                        works_on[username].append(f"{step.label} ({target} group)")
                elif kind == Step.AssigneeType.QUEUE:
                    name, members = QUEUES[target]
                    for username in members:
                        works_on[username].append(f"{step.label} ({name} queue)")
    # An assignee computed from the run data names nobody in advance.
    works_on["manager"].append("Manager approval (when picked on the new hire form)")
    roles = {username: starts[username] + works_on[username] for username in USERS}
    for username in SUPERUSERS:
        roles[username].insert(0, "superuser: designs orchestrations, watches every run")
    return roles


# Seeding ---------------------------------------------------------------------------------


@dataclass
class SeedSummary:
    """What one seed created; everything not listed already existed and was left as it was."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    activated: list[str] = field(default_factory=list)  # "Loan approval v1"
    kept: list[str] = field(default_factory=list)  # orchestrations with an active version


def seed_demo() -> SeedSummary:
    """Create the demo's users, groups, queue and orchestrations (with an active version
    each) where missing. Existing users keep their password; an orchestration that already
    has an active version keeps it. Running it again changes nothing."""
    summary = SeedSummary()
    with transaction.atomic():
        users = _seed_users(summary)
        groups = _seed_groups(users, summary)
        _seed_queues(users, summary)
        for spec in ORCHESTRATIONS:
            _seed_orchestration(spec, groups=groups, summary=summary)
    return summary


def _seed_users(summary: SeedSummary) -> dict:
    User = get_user_model()
    # Hashed once for all new users: a password hash takes a good part of a second, and
    # every user's password is the same demo password anyway.
    password = make_password(PASSWORD)
    users = {}
    for username, first_name in USERS.items():
        superuser = username in SUPERUSERS
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "email": f"{username}@example.com",
                "is_staff": superuser,
                "is_superuser": superuser,
                "password": password,
            },
        )
        if created:
            summary.users.append(username)
        users[username] = user
    return users


def _seed_groups(users: dict, summary: SeedSummary) -> dict[str, Group]:
    groups = {}
    for name, members in GROUPS.items():
        group, created = Group.objects.get_or_create(name=name)
        if created:
            summary.groups.append(name)
        group.user_set.add(*(users[username] for username in members))
        groups[name] = group
    return groups


def _seed_queues(users: dict, summary: SeedSummary) -> dict[str, Queue]:
    queues = {}
    for key, (name, members) in QUEUES.items():
        queue, created = Queue.objects.get_or_create(key=key, defaults={"name": name})
        if created:
            summary.queues.append(name)
        queue.members.add(*(users[username] for username in members))
        queues[key] = queue
    return queues


def _seed_orchestration(spec: OrchestrationSpec, *, groups: dict, summary: SeedSummary) -> None:
    orchestration, _ = Orchestration.objects.get_or_create(
        key=spec.key, defaults={"name": spec.name, "description": spec.description}
    )
    orchestration.starter_groups.add(*(groups[name] for name in spec.starter_groups))
    if orchestration.active_version is not None:
        summary.kept.append(orchestration.name)
        return
    version = build_version(orchestration, spec, notes="Created by seed_demo.")
    version.activate()  # Validates the whole tree; a problem raises ValidationError.
    summary.activated.append(f"{orchestration.name} v{version.number}")
