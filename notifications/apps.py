from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """The outbox. Its place in the import order: workitems -> notifications -> runs ->
    orchestrator. It hears how runs end through the engine's run listeners, and shows its
    rows on the run page the same way; work items write their own rows through outbox.py."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import run_end
        from runs.listeners import register_listener
        from runs.sweeper import register_sweep

        register_listener(run_end.OutboxListener())
        run_end.register()
        from notifications.sweeper import resend_lost_notifications

        register_sweep("notifications_resent", resend_lost_notifications)
