from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "settlement"
    verbose_name = "Settlement"

    def ready(self) -> None:
        from betting.hooks import on_result_recorded
        from settlement.triggers import result_recorded_settle

        on_result_recorded(result_recorded_settle)
