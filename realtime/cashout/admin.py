"""Cashout offers and auto-cashout targets in the admin: read-only (money moves only through the
services), with the operator's manual steps as actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ledger.admin import ReadOnlyAdmin
from ledger.currencies import format_amount
from realtime.cashout.models import AutoCashout, CashoutOffer
from realtime.cashout.services import cashout_offers_expire


@admin.register(CashoutOffer)
class CashoutOfferAdmin(ReadOnlyAdmin):
    list_display = ["id", "slip", "user", "shown_amount", "fraction", "status", "source", "reason", "expires_at"]
    list_filter = ["status", "source", "currency"]
    search_fields = ["=id", "=slip__id", "user__username"]
    list_select_related = ["user"]
    actions = ["expire_lapsed"]

    @admin.display(description="amount")
    def shown_amount(self, obj: CashoutOffer) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.action(description="Mark the selected offers past their time expired (beat does it every minute)")
    def expire_lapsed(self, request: HttpRequest, queryset: QuerySet[CashoutOffer]) -> None:
        count = cashout_offers_expire(now=timezone.now(), offers=queryset)
        self.message_user(request, f"{count} offer(s) expired.", messages.SUCCESS)


@admin.register(AutoCashout)
class AutoCashoutAdmin(ReadOnlyAdmin):
    list_display = ["id", "slip", "user", "shown_target", "status", "offer", "updated_at"]
    list_filter = ["status", "currency"]
    search_fields = ["=slip__id", "user__username"]
    list_select_related = ["user"]
    actions = ["clear_targets"]

    @admin.display(description="target")
    def shown_target(self, obj: AutoCashout) -> str:
        return format_amount(obj.target, obj.currency)

    @admin.action(description="Clear the selected armed targets (the player is not cashed out)")
    def clear_targets(self, request: HttpRequest, queryset: QuerySet[AutoCashout]) -> None:
        count = queryset.filter(status=AutoCashout.Status.ARMED).update(
            status=AutoCashout.Status.CLEARED, updated_at=timezone.now()
        )
        self.message_user(request, f"{count} target(s) cleared.", messages.SUCCESS)
