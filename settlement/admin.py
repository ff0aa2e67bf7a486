"""Settlement in the admin: runs (and retrying failed ones), what each event's settlement has
done, operators' void windows (added through the service), result pushes, and the "Settle now"
action on the sportsbook's events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from betting.admin import EventAdmin
from betting.models import Event
from core.errors import ApplicationError
from ledger.admin import ReadOnlyAdmin
from settlement.models import EventSettlement, MarketVoidWindow, ResultPush, SettlementRun
from settlement.services.runs import settlement_run
from settlement.services.voids import market_bets_void


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "trigger",
        "status",
        "dry_run",
        "target_event",
        "events",
        "slips_settled",
        "slips_resettled",
        "attempts",
        "error_count",
        "created_at",
        "duration_ms",
    ]
    list_filter = ["status", "trigger", "dry_run"]
    search_fields = ["=id", "correlation_id", "=target_event__id", "requested_by"]
    date_hierarchy = "created_at"
    actions = ["run_again"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # the list and its actions; a run itself is a record

    @admin.display(description="errors")
    def error_count(self, obj: SettlementRun) -> int:
        return len(obj.errors or [])

    @admin.action(description="Run again now (a new run with the same target)")
    def run_again(self, request: HttpRequest, queryset: QuerySet[SettlementRun]) -> None:
        for old in queryset.filter(status=SettlementRun.Status.FAILED).order_by("pk"):
            run = settlement_run(
                trigger=SettlementRun.Trigger.ADMIN,
                event_id=old.target_event_id,
                sync_feed=old.sync_feed,
                requested_by=f"admin:{request.user.pk} (again of run {old.pk})",
            )
            level = messages.SUCCESS if run.status == SettlementRun.Status.SUCCEEDED else messages.WARNING
            self.message_user(request, f"run {run.pk} (again of {old.pk}): {run.status}", level)


@admin.register(EventSettlement)
class EventSettlementAdmin(ReadOnlyAdmin):
    list_display = [
        "event",
        "handled_status",
        "graded_version",
        "first_graded_at",
        "generation",
        "settled_generation",
        "resettle",
        "ignored_version",
        "last_settled_at",
    ]
    list_filter = ["handled_status", "resettle"]
    search_fields = ["=event__id", "event__name"]
    list_select_related = ["event"]


@admin.register(MarketVoidWindow)
class MarketVoidWindowAdmin(admin.ModelAdmin):
    """Adding a window voids the market's bets accepted inside it (through the service)."""

    fields = ["market", "start", "end", "reason"]
    list_display = ["id", "market", "start", "end", "reason", "created_by", "created_at"]
    search_fields = ["=market__id", "market__event__name", "reason"]
    raw_id_fields = ["market"]
    list_select_related = ["market", "created_by"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a void that paid out is undone by a correction, not by deleting its record

    def save_model(self, request: HttpRequest, obj: MarketVoidWindow, form: Any, change: bool) -> None:
        try:
            window = market_bets_void(
                market_id=obj.market_id,
                start=obj.start,
                end=obj.end,
                reason=obj.reason,
                operator_id=request.user.pk,
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = window.pk


@admin.register(ResultPush)
class ResultPushAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "signed_at", "received_at", "result_changed", "run"]
    list_filter = ["result_changed"]
    search_fields = ["=event__id", "digest"]


@admin.action(description="Settle now")
def settle_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Event]) -> None:
    for event in queryset.order_by("pk"):
        run = settlement_run(
            trigger=SettlementRun.Trigger.ADMIN, event_id=event.pk, requested_by=f"admin:{request.user.pk}"
        )
        level = messages.SUCCESS if run.status == SettlementRun.Status.SUCCEEDED else messages.ERROR
        modeladmin.message_user(
            request,
            f"{event}: run {run.pk} {run.status}, {run.slips_settled} slip(s) settled, {run.slips_resettled} resettled",
            level,
        )


# The sportsbook's event admin, with the action settlement adds (betting cannot import settlement).
class SettlementEventAdmin(EventAdmin):
    actions = [*EventAdmin.actions, settle_now]


admin.site.unregister(Event)
admin.site.register(Event, SettlementEventAdmin)
