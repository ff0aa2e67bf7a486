from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from realtime.outbox import on_events_committed
        from realtime.relay import relay_wake

        on_events_committed(relay_wake)
