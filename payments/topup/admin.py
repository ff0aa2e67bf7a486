"""Top-ups in the admin: read-only rows, filters by status and age, and the operator's two
actions: "query now" and "refund" (which queries first and refunds only what is still open)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timesince

from core.errors import ApplicationError
from ledger.admin import ReadOnlyAdmin
from ledger.currencies import format_amount
from payments.models import TopUp, TopUpEvent
from payments.topup.services import topup_query, topup_refund


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS: dict[str, tuple[timedelta | None, timedelta | None]] = {
        "5m": (None, timedelta(minutes=5)),
        "1h": (timedelta(minutes=5), timedelta(hours=1)),
        "24h": (timedelta(hours=1), timedelta(hours=24)),
        "older": (timedelta(hours=24), None),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("5m", "under 5 minutes"),
            ("1h", "5 to 60 minutes"),
            ("24h", "1 to 24 hours"),
            ("older", "over 24 hours"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        now = timezone.now()
        younger_than, older_than = band[1], band[0]
        if younger_than is not None:
            queryset = queryset.filter(created_at__gt=now - younger_than)
        if older_than is not None:
            queryset = queryset.filter(created_at__lte=now - older_than)
        return queryset


class AttentionFilter(admin.SimpleListFilter):
    title = "needs an operator"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "flagged and unresolved"), ("flagged", "flagged (any status)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(flagged_at__isnull=False, status__in=TopUp.OPEN)
        if self.value() == "flagged":
            return queryset.filter(flagged_at__isnull=False)
        return queryset


class TopUpEventInline(admin.TabularInline):
    model = TopUpEvent
    fields = ("created_at", "kind", "outcome", "result_code", "http_status", "message", "payload")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "transid",
        "user",
        "phone",
        "carrier",
        "kind",
        "shown_amount",
        "status",
        "flagged",
        "age",
        "queries",
        "next_attempt_at",
    ]
    list_filter = ["status", AttentionFilter, AgeFilter, "carrier", "kind", "failure_code"]
    search_fields = ["transid", "phone", "provider_reference", "user__username", "=id"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in TopUp._meta.fields]
    inlines = [TopUpEventInline]
    actions = ["query_now", "refund"]

    @admin.display(description="amount")
    def shown_amount(self, obj: TopUp) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="flagged", boolean=True)
    def flagged(self, obj: TopUp) -> bool:
        return obj.flagged_at is not None

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: TopUp) -> str:
        return timesince(obj.created_at)

    @admin.action(description="Query the provider now")
    def query_now(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> None:
        for topup in queryset.filter(status=TopUp.Status.PROCESSING).order_by("pk"):
            after = topup_query(topup_id=topup.pk, force=True)
            self.message_user(request, f"{topup.transid}: {after.status} {after.result_code} {after.message}".strip())
        skipped = queryset.exclude(status=TopUp.Status.PROCESSING).count()
        if skipped:
            self.message_user(request, f"{skipped} not in processing: nothing to query.", messages.WARNING)

    @admin.action(description="Refund (queries first; refunds only what is still unresolved)")
    def refund(self, request: HttpRequest, queryset: QuerySet[TopUp]) -> None:
        operator = getattr(request.user, "username", "operator")
        for topup in queryset.filter(Q(status=TopUp.Status.PROCESSING) | Q(status=TopUp.Status.HELD)).order_by("pk"):
            if topup.status == TopUp.Status.PROCESSING:
                topup = topup_query(topup_id=topup.pk, force=True)
                if not topup.is_open:
                    self.message_user(request, f"{topup.transid}: the provider settled it: {topup.status}.")
                    continue
            try:
                topup = topup_refund(topup_id=topup.pk, operator=operator, reason="admin action")
            except ApplicationError as exc:
                self.message_user(request, f"{topup.transid}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{topup.transid}: refunded.")
        skipped = queryset.exclude(status__in=[TopUp.Status.PROCESSING, TopUp.Status.HELD]).count()
        if skipped:
            self.message_user(request, f"{skipped} final or in flight: not refunded.", messages.WARNING)
