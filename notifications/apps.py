from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """The outbox. Its place in the import order: workitems -> notifications -> runs ->
    orchestrator. It hears how runs end through the engine's run listeners
    (runs/listeners.py), shows its rows on the run page the same way, and adds its part to
    the sweep; work items write their own rows through notifications/outbox.py."""

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications import run_end
        from notifications.sweeper import resend_lost_notifications
        from runs.listeners import register_listener
        from runs.sweeper import register_sweep

        register_listener(run_end.OutboxListener())
        run_end.register()
        register_sweep("notifications_resent", resend_lost_notifications)
