from django.apps import AppConfig


class WorkitemsConfig(AppConfig):
    name = "workitems"
    verbose_name = "Work items"

    def ready(self) -> None:
        from runs.kinds import register_kind
        from workitems import announce
        from workitems.kind import InteractiveKind

        register_kind("interactive", InteractiveKind())
        announce.register()
