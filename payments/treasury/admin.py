"""Virtual accounts and bank transactions in the admin. The BVN shows as its last 4 digits only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.timesince import timesince

from ledger.admin import ReadOnlyAdmin
from ledger.currencies import format_amount
from payments.models import BankTransaction, VirtualAccount
from payments.topup.admin import AgeFilter
from payments.treasury.services import virtual_account_set_status


@admin.register(VirtualAccount)
class VirtualAccountAdmin(ReadOnlyAdmin):
    list_display = ["account_number", "bank_name", "account_name", "user", "provider", "status", "bvn", "age"]
    list_filter = ["status", "provider", AgeFilter]
    search_fields = ["account_number", "account_name", "user__username", "email", "phone", "provider_reference"]
    list_select_related = ["user"]
    exclude = ["bvn_encrypted", "bvn_last4"]
    readonly_fields = [f.name for f in VirtualAccount._meta.fields if f.name not in ("bvn_encrypted", "bvn_last4")] + [
        "bvn"
    ]
    actions = ["suspend", "reactivate"]

    @admin.display(description="BVN")
    def bvn(self, obj: VirtualAccount) -> str:
        return obj.bvn_masked

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: VirtualAccount) -> str:
        return timesince(obj.created_at)

    @admin.action(description="Suspend (deposits are refused)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[VirtualAccount]) -> None:
        for account in queryset:
            virtual_account_set_status(account_id=account.pk, status=VirtualAccount.Status.SUSPENDED)
        self.message_user(request, f"{queryset.count()} suspended.")

    @admin.action(description="Reactivate")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[VirtualAccount]) -> None:
        for account in queryset:
            virtual_account_set_status(account_id=account.pk, status=VirtualAccount.Status.ACTIVE)
        self.message_user(request, f"{queryset.count()} active.")


@admin.register(BankTransaction)
class BankTransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "reference",
        "provider",
        "virtual_account",
        "user",
        "shown_amount",
        "sender_name",
        "sender_bank",
        "transaction_date",
        "age",
        "ledger_transaction",
    ]
    list_filter = ["provider", AgeFilter, "currency"]
    search_fields = ["reference", "virtual_account__account_number", "user__username", "sender_name", "=id"]
    list_select_related = ["user", "virtual_account"]
    readonly_fields = [f.name for f in BankTransaction._meta.fields]
    date_hierarchy = "created_at"

    @admin.display(description="amount")
    def shown_amount(self, obj: BankTransaction) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: BankTransaction) -> str:
        return timesince(obj.created_at)
