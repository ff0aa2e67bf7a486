from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from betting.hooks import on_odds_changed
        from realtime.cashout.auto import auto_cashout_on_odds_changed
        from realtime.outbox import on_events_committed
        from realtime.relay import relay_wake
        from realtime.slip_topics import open_slip_topics
        from realtime.subscriptions import topic_provider

        on_events_committed(relay_wake)
        topic_provider(open_slip_topics)
        on_odds_changed(auto_cashout_on_odds_changed)
