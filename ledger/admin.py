"""The ledger in the admin: searchable, filterable, and read-only (corrections are reversals)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ledger.currencies import format_amount
from ledger.models import Account, Posting, Transaction
from ledger.selectors import account_balance


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "currency", "user", "shown_balance", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["user__username", "user__email", "=id"]
    list_select_related = ["user"]

    @admin.display(description="balance")
    def shown_balance(self, obj: Account) -> str:
        return format_amount(account_balance(obj), obj.currency)


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("account", "amount", "currency")
    readonly_fields = ("account", "amount", "currency")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Posting]:
        return super().get_queryset(request).select_related("account", "account__user")


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "idempotency_key", "reference", "reverses", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["idempotency_key", "reference", "=id", "postings__account__user__username"]
    date_hierarchy = "created_at"
    inlines = [PostingInline]
    readonly_fields = [
        "idempotency_key",
        "kind",
        "reference",
        "description",
        "reverses",
        "lines_digest",
        "metadata",
        "correlation_id",
        "created_at",
    ]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return results.distinct() if search_term else results, False


# The on-chain audit trail registers its own screens.
from ledger.chain import admin as _chain_admin  # noqa: E402,F401
