"""The sportsbook in the admin. State changes go through the services (the same ones the staff
API uses): actions suspend, resume, void and close markets, move events, record results; odds
edited inline are repriced by `market_update`. Slips and counters are read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from betting.models import (
    BetLeg,
    BetSlip,
    Competitor,
    DailyStake,
    Event,
    League,
    Market,
    PlayerLimits,
    Selection,
    SelectionLiability,
    Sport,
)
from betting.services import event_result_record, market_update, slip_live_confirm
from core.errors import ApplicationError
from ledger.admin import ReadOnlyAdmin
from ledger.currencies import format_amount


@admin.register(Sport)
class SportAdmin(admin.ModelAdmin):
    list_display = ["id", "key", "name"]
    search_fields = ["key", "name"]


@admin.register(League)
class LeagueAdmin(admin.ModelAdmin):
    list_display = ["id", "key", "name", "sport"]
    list_filter = ["sport"]
    search_fields = ["key", "name"]


@admin.register(Competitor)
class CompetitorAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "short_name", "sport", "provider", "external_id"]
    list_filter = ["sport", "provider"]
    search_fields = ["name", "short_name", "external_id"]


def _service_action(name: str, label: str, change: Callable[[Any], object]) -> Any:
    """An admin action that calls a service for each selected row, saying what it refused."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        done = 0
        for obj in queryset.order_by("pk"):
            try:
                change(obj)
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        if done:
            modeladmin.message_user(request, f"{done} done.", messages.SUCCESS)

    action.__name__ = name
    return admin.action(description=label)(action)


def _event_status_action(status: str, label: str) -> Any:
    return _service_action(f"mark_{status}", label, lambda event: event_result_record(event_id=event.pk, status=status))


class MarketInline(admin.TabularInline):
    model = Market
    fields = ["link", "kind", "line", "status", "in_play", "operator_hold"]
    readonly_fields = ["link", "kind", "line", "status", "in_play", "operator_hold"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="market")
    def link(self, obj: Market) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:betting_market_change", args=[obj.pk]), obj.name)


class ResultForm(forms.Form):
    status = forms.ChoiceField(choices=Event.Status.choices, initial=Event.Status.FINISHED)
    home_score = forms.IntegerField(min_value=0, required=False)
    away_score = forms.IntegerField(min_value=0, required=False)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "league", "status", "scheduled_start", "score", "result_version", "provider"]
    list_filter = ["status", "sport", "league", "provider"]
    search_fields = ["name", "external_id", "home__name", "away__name", "=id"]
    date_hierarchy = "scheduled_start"
    list_select_related = ["league", "home", "away"]
    readonly_fields = [
        "provider",
        "external_id",
        "status",
        "actual_start",
        "home_score",
        "away_score",
        "result_version",
        "result_received_at",
        "finished_at",
        "record_result",
    ]
    inlines = [MarketInline]
    actions = [
        _event_status_action(Event.Status.LIVE, "Mark live"),
        _event_status_action(Event.Status.POSTPONED, "Mark postponed"),
        _event_status_action(Event.Status.ABANDONED, "Mark abandoned"),
        _event_status_action(Event.Status.CANCELLED, "Mark cancelled (bets void at settlement)"),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from the feed or POST /api/admin/events (with their markets)

    @admin.display(description="score")
    def score(self, obj: Event) -> str:
        return "" if obj.home_score is None else f"{obj.home_score} - {obj.away_score}"

    @admin.display(description="result")
    def record_result(self, obj: Event) -> str:
        url = reverse("admin:betting_event_result", args=[obj.pk])
        return format_html('<a class="button" href="{}">Record result…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<int:event_id>/result/",
                self.admin_site.admin_view(self.result_view),
                name="betting_event_result",
            )
        ]
        return custom + super().get_urls()

    def result_view(self, request: HttpRequest, event_id: int) -> HttpResponse:
        event = get_object_or_404(Event, pk=event_id)
        form = ResultForm(
            request.POST or None, initial={"home_score": event.home_score, "away_score": event.away_score}
        )
        if request.method == "POST" and form.is_valid():
            try:
                event_result_record(event_id=event.pk, **form.cleaned_data)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"Result recorded for {event}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:betting_event_change", args=[event.pk]))
        context = {**self.admin_site.each_context(request), "event": event, "form": form, "opts": self.model._meta}
        return render(request, "admin/betting/event/result.html", context)


class SelectionInline(admin.TabularInline):
    model = Selection
    fields = ["outcome", "name", "odds", "status", "result", "factor", "placing"]
    readonly_fields = ["outcome", "name", "status", "result", "factor", "placing"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _market_action(action_name: str, label: str) -> Any:
    return _service_action(
        f"market_{action_name}", label, lambda market: market_update(market_id=market.pk, action=action_name)
    )


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "kind", "name", "line", "status", "in_play", "operator_hold", "updated_at"]
    list_filter = ["status", "kind", "in_play", "operator_hold", "event__league"]
    search_fields = ["name", "event__name", "=event__id", "=id"]
    list_select_related = ["event"]
    readonly_fields = ["event", "kind", "key", "line", "paying_places", "status", "operator_hold", "in_play"]
    fields = ["event", "name", "kind", "key", "line", "paying_places", "status", "in_play", "operator_hold"]
    inlines = [SelectionInline]
    actions = [
        _market_action("suspend", "Suspend"),
        _market_action("resume", "Resume"),
        _market_action("close", "Close (no more bets)"),
        _market_action("void", "Void (bets void at settlement)"),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Odds edited inline are repriced through the service (checks, odds.updated event)."""
        prices = {
            f.instance.pk: f.cleaned_data["odds"]
            for f in formset.forms
            if f.has_changed() and "odds" in f.changed_data and f.instance.pk
        }
        if prices:
            try:
                market_update(market_id=form.instance.pk, odds=prices)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)


@admin.register(Selection)
class SelectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "market", "outcome", "name", "odds", "status", "result", "factor", "placing"]
    list_filter = ["status", "result", "outcome", "market__kind"]
    search_fields = ["name", "market__event__name", "=id", "=market__id"]
    list_select_related = ["market"]


class LegInline(admin.TabularInline):
    model = BetLeg
    fields = ["selection", "event", "odds_requested", "odds_placed", "live"]
    readonly_fields = ["selection", "event", "odds_requested", "odds_placed", "live"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BetSlip)
class BetSlipAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "user",
        "type",
        "status",
        "shown_stake",
        "shown_potential",
        "shown_payout",
        "live",
        "placed_at",
    ]
    list_filter = ["status", "type", "currency", "live", "accept_odds"]
    search_fields = ["=id", "user__username", "client_key", "legs__event__name"]
    list_select_related = ["user"]
    date_hierarchy = "placed_at"
    inlines = [LegInline]
    actions = ["decide_live_bets"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # the list (and its actions) yes, editing a slip no

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        results, _ = super().get_search_results(request, queryset, search_term)
        return (results.distinct() if search_term else results), False

    @admin.display(description="stake")
    def shown_stake(self, obj: BetSlip) -> str:
        return format_amount(obj.stake, obj.currency)

    @admin.display(description="potential payout")
    def shown_potential(self, obj: BetSlip) -> str:
        return format_amount(obj.potential_payout, obj.currency)

    @admin.display(description="payout")
    def shown_payout(self, obj: BetSlip) -> str:
        return "" if obj.payout is None else format_amount(obj.payout, obj.currency)

    @admin.action(description="Decide live bets whose delay has passed")
    def decide_live_bets(self, request: HttpRequest, queryset: QuerySet[BetSlip]) -> None:
        decided = 0
        for slip in queryset.filter(status=BetSlip.Status.AWAITING).order_by("pk"):
            if slip_live_confirm(slip_id=slip.pk).status != BetSlip.Status.AWAITING:
                decided += 1
        self.message_user(request, f"{decided} live bet(s) decided.", messages.SUCCESS)


@admin.register(SelectionLiability)
class SelectionLiabilityAdmin(ReadOnlyAdmin):
    list_display = ["selection", "currency", "amount"]
    list_filter = ["currency"]
    search_fields = ["=selection__id", "selection__market__event__name"]
    list_select_related = ["selection"]
    ordering = ["-amount"]


@admin.register(PlayerLimits)
class PlayerLimitsAdmin(admin.ModelAdmin):
    list_display = ["user", "self_excluded_until", "daily_stake_limits", "updated_at"]
    list_filter = [("self_excluded_until", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["updated_at"]


@admin.register(DailyStake)
class DailyStakeAdmin(ReadOnlyAdmin):
    list_display = ["user", "currency", "day", "amount"]
    list_filter = ["currency", "day"]
    search_fields = ["user__username"]


import betting.rounds.admin  # noqa: E402,F401  (Up/Down rounds register their own admin)
