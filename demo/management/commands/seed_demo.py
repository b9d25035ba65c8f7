"""`python manage.py seed_demo`: the demo's users, groups, queue and four orchestrations."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from demo.seed import PASSWORD, seed_demo, who_does_what


class Command(BaseCommand):
    help = (
        "Create the demo users (password 'demo'), groups, the IT queue and four active "
        "orchestrations. Safe to run again: what exists is left as it is."
    )

    def handle(self, *args, **options):
        try:
            summary = seed_demo()
        except ValidationError as exc:
            problems = "\n".join(f"  - {message}" for message in exc.messages)
            raise CommandError(f"A demo orchestration is not valid:\n{problems}") from exc

        def line(label: str, names: list[str]) -> None:
            self.stdout.write(f"{label}: {', '.join(names) if names else 'none'}")

        line("Users created", summary.users)
        line("Groups created", summary.groups)
        line("Queues created", summary.queues)
        line("Orchestrations activated", summary.activated)
        if summary.kept:
            line("Already active, kept as they are", summary.kept)

        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password '{PASSWORD}'):"))
        roles = who_does_what()
        width = max(map(len, roles))
        for username, tasks in roles.items():
            self.stdout.write(f"  {username:<{width}}  {'; '.join(tasks)}".rstrip())
