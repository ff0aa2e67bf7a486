"""Operators' screens for the Up/Down rounds: rounds with actions lock, settle and void; their
bets; every oracle fetch; and the entry of an official close by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from betting.models import ManualPrice, PriceFetch, Round, RoundBet
from betting.rounds.nyse import NEW_YORK
from betting.rounds.services import manual_price_set, manual_price_validate, round_lock
from betting.rounds.settlement import round_settle
from core.errors import ApplicationError
from ledger.currencies import format_amount


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Round], verb: str, fn: Any) -> None:
    for found in queryset.order_by("trading_date"):
        try:
            message = fn(found)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{found.code}: {exc.message}", level=messages.ERROR)
        else:
            modeladmin.message_user(request, f"{found.code}: {message}", level=messages.SUCCESS)


@admin.register(Round)
class RoundAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "asset",
        "status",
        "result",
        "lock_local",
        "early_close",
        "pool_up",
        "pool_down",
        "reference_price",
        "closing_price",
        "settle_attempts",
        "last_error",
    ]
    list_filter = ["status", "result", "void_reason", "asset", "currency", "early_close"]
    search_fields = ["=code", "asset"]
    date_hierarchy = "trading_date"
    actions = ["lock_rounds", "settle_rounds", "void_rounds"]

    @admin.display(description="lock (New York)", ordering="lock_at")
    def lock_local(self, obj: Round) -> str:
        return obj.lock_at.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z")

    @admin.display(description="UP pool")
    def pool_up(self, obj: Round) -> str:
        return f"{format_amount(obj.up_pool, obj.currency)} ({obj.up_bets})"

    @admin.display(description="DOWN pool")
    def pool_down(self, obj: Round) -> str:
        return f"{format_amount(obj.down_pool, obj.currency)} ({obj.down_bets})"

    @admin.action(description="Lock (no more bets)")
    def lock_rounds(self, request: HttpRequest, queryset: QuerySet[Round]) -> None:
        _each(self, request, queryset, "lock", lambda r: f"now {round_lock(code=r.code).status}")

    @admin.action(description="Settle from the oracle (AUTO)")
    def settle_rounds(self, request: HttpRequest, queryset: QuerySet[Round]) -> None:
        _each(self, request, queryset, "settle", lambda r: round_settle(code=r.code).message)

    @admin.action(description="Void and refund every stake")
    def void_rounds(self, request: HttpRequest, queryset: QuerySet[Round]) -> None:
        by = f"operator:{request.user.get_username()}"
        _each(self, request, queryset, "void", lambda r: round_settle(code=r.code, result="VOID", by=by).message)


@admin.register(RoundBet)
class RoundBetAdmin(ReadOnlyAdmin):
    list_display = ["id", "round", "user", "side", "shown_amount", "status", "shown_payout", "placed_at", "settled_at"]
    list_filter = ["status", "side", "currency"]
    search_fields = ["=id", "=round__code", "user__username", "idempotency_key"]
    list_select_related = ["round", "user"]
    show_full_result_count = False  # a round can hold 100,000 bets

    @admin.display(description="stake", ordering="amount")
    def shown_amount(self, obj: RoundBet) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="payout", ordering="payout")
    def shown_payout(self, obj: RoundBet) -> str:
        return "-" if obj.status == RoundBet.Status.PENDING else format_amount(obj.payout, obj.currency)


@admin.register(PriceFetch)
class PriceFetchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "round",
        "purpose",
        "oracle",
        "asset",
        "session_date",
        "outcome",
        "price",
        "elapsed_ms",
    ]
    list_filter = ["outcome", "oracle", "purpose", "asset"]
    search_fields = ["=round__code", "asset", "message"]
    list_select_related = ["round"]


class ManualPriceForm(forms.ModelForm):
    class Meta:
        model = ManualPrice
        fields = ["asset", "session_date", "price", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("asset") and data.get("session_date") and data.get("price") is not None:
            try:
                manual_price_validate(asset=data["asset"], session_date=data["session_date"], price=data["price"])
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from None
        return data

    def validate_unique(self) -> None:
        pass  # entering a day's close again replaces it (manual_price_set)


@admin.register(ManualPrice)
class ManualPriceAdmin(admin.ModelAdmin):
    """An official close typed in by an operator; it wins over the oracle until a round is decided."""

    form = ManualPriceForm
    list_display = ["asset", "session_date", "price", "entered_by", "note", "created_at"]
    list_filter = ["asset"]
    search_fields = ["asset", "entered_by"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["asset", "session_date"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: ManualPrice, form: Any, change: bool) -> None:
        saved = manual_price_set(
            asset=obj.asset,
            session_date=obj.session_date,
            price=obj.price,
            entered_by=request.user.get_username(),
            note=obj.note,
        )
        obj.pk = saved.pk
