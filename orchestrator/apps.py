from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class OrchestratorConfig(AppConfig):
    name = "orchestrator"
    verbose_name = "Orchestrations"

    def ready(self) -> None:
        import_module("orchestrator.signals")  # keeps Step.depends_on frozen with its version
        # Built-in actions register themselves on import; a project adds its own modules
        # with the ACTION_MODULES setting.
        import_module("orchestrator.checks")
        import_module("orchestrator.actions")
        for module in getattr(settings, "ACTION_MODULES", []):
            import_module(module)
