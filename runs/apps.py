from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs"

    def ready(self) -> None:
        from runs import checks  # noqa: F401  (registers the system checks)
        from runs.kinds import BackgroundKind, register_kind

        register_kind("background", BackgroundKind())
