"""Chain records and deployments in the admin: read-only rows, with the manual steps as actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import ApplicationError
from ledger.admin import ReadOnlyAdmin
from ledger.chain.services import chain_record_retry, chain_record_send_now
from ledger.chain.verification import chain_records_verify
from ledger.currencies import format_amount
from ledger.models import ChainDeployment, ChainRecord


@admin.register(ChainRecord)
class ChainRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "subject_id",
        "shown_amount",
        "status",
        "network",
        "short_tx",
        "block_number",
        "attempts",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "network", "currency", "created_at"]
    search_fields = ["=subject_id", "bet_hash", "tx_hash", "=id"]
    date_hierarchy = "created_at"
    actions = ["retry_failed", "send_now", "verify_on_chain"]

    @admin.display(description="win")
    def shown_amount(self, obj: ChainRecord) -> str:
        return format_amount(obj.win_amount, obj.currency)

    @admin.display(description="tx")
    def short_tx(self, obj: ChainRecord) -> str:
        return f"{obj.tx_hash[:10]}…{obj.tx_hash[-6:]}" if obj.tx_hash else ""

    @admin.action(description="Retry the selected failed records")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[ChainRecord]) -> None:
        moved = sum(chain_record_retry(record_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{moved} record(s) pending again; the next anchoring run sends them.")

    @admin.action(description="Send the selected pending records on the next run (skip the backoff)")
    def send_now(self, request: HttpRequest, queryset: QuerySet[ChainRecord]) -> None:
        moved = sum(chain_record_send_now(record_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{moved} pending record(s) due now.")

    @admin.action(description="Verify all confirmed records against the chain")
    def verify_on_chain(self, request: HttpRequest, queryset: QuerySet[ChainRecord]) -> None:
        try:
            report = chain_records_verify()
        except ApplicationError as exc:
            self.message_user(request, f"Could not verify: {exc.message}", level=messages.ERROR)
            return
        if report.clean:
            self.message_user(request, f"{report.checked} confirmed record(s) match the chain.")
            return
        for mismatch in report.mismatches[:20]:
            self.message_user(request, str(mismatch), level=messages.ERROR)


@admin.register(ChainDeployment)
class ChainDeploymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "network", "chain_id", "address", "recorder", "block_number", "created_at"]
    list_filter = ["network", "chain_id"]
    search_fields = ["address", "tx_hash", "recorder"]
