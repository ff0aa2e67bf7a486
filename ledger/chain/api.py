"""Public reads of the audit trail: anyone may check that a big win was paid and anchored."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import ValidationFailed
from ledger.api import MoneyOutput
from ledger.chain.selectors import EXPORT_COLUMNS, chain_records, chain_records_export_rows
from ledger.currencies import money
from ledger.models import ChainRecord

FILTER_PARAMETERS = [
    OpenApiParameter("status", str, enum=list(ChainRecord.Status.values)),
    OpenApiParameter("date_from", date, description="First UTC day (YYYY-MM-DD) of the record's creation."),
    OpenApiParameter("date_to", date, description="Last UTC day, included."),
]


class FilterInput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=ChainRecord.Status.choices, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise ValidationFailed("date_from is after date_to.", details={"fields": ["date_from", "date_to"]})
        return attrs


def _filters(request: Request) -> dict[str, Any]:
    data = FilterInput(data=request.query_params)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class ChainEntriesView(ListAPIView[ChainRecord]):
    """Records of big wins on the chain, newest first (paginated)."""

    permission_classes = [AllowAny]

    class Output(serializers.ModelSerializer[ChainRecord]):
        bet_slip_id = serializers.IntegerField(source="subject_id")
        win_amount = serializers.SerializerMethodField()

        class Meta:
            model = ChainRecord
            fields = [
                "id",
                "bet_slip_id",
                "bet_hash",
                "win_amount",
                "status",
                "tx_hash",
                "block_number",
                "block_timestamp",
                "network",
                "chain_id",
                "contract_address",
                "created_at",
                "confirmed_at",
            ]

        @extend_schema_field(MoneyOutput)
        def get_win_amount(self, obj: ChainRecord) -> dict[str, object]:
            return money(obj.win_amount, obj.currency)

    serializer_class = Output

    @extend_schema(operation_id="ledger_entries_list", parameters=FILTER_PARAMETERS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return chain_records(**_filters(self.request))


class _Echo:
    def write(self, value: str) -> str:
        return value


class ChainExportView(APIView):
    """CSV of the records (same filters), streamed: constant memory for any number of rows."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="ledger_export_csv",
        parameters=FILTER_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(description=",".join(EXPORT_COLUMNS))},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        filters = _filters(request)  # bad input fails here, before any byte is streamed
        writer = csv.writer(_Echo(), lineterminator="\n")

        def lines() -> Iterator[str]:
            yield writer.writerow(EXPORT_COLUMNS)
            for row in chain_records_export_rows(**filters):
                yield writer.writerow(row)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="ledger.csv"'
        return response
