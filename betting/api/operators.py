"""Staff-only endpoints: create an event, change a market, record a result."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.api.render import EventOut, MarketOut, OddsInput
from betting.models import Event, Market, Selection
from betting.selectors import event_get
from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create, event_result_record, market_update
from betting.services.operators import MARKET_ACTIONS


class SelectionInput(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=Selection.Outcome.choices)
    odds = OddsInput()
    name = serializers.CharField(required=False, default="", max_length=128)


class MarketInput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Market.Kind.choices)
    line = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True, default=None)
    name = serializers.CharField(required=False, default="", max_length=128)
    paying_places = serializers.IntegerField(required=False, default=1, min_value=1, max_value=100)
    in_play = serializers.BooleanField(required=False, default=False)
    selections = SelectionInput(many=True, allow_empty=False, max_length=500)  # type: ignore[call-arg]


class PriceInput(serializers.Serializer[Any]):
    selection = serializers.IntegerField(min_value=1)
    odds = OddsInput()


class PlacingInput(serializers.Serializer[Any]):
    selection = serializers.IntegerField(min_value=1)
    place = serializers.IntegerField(min_value=1, max_value=1000)


class AdminEventsView(APIView):
    permission_classes = [IsAdminUser]

    class Input(serializers.Serializer[Any]):
        sport = serializers.RegexField(r"^[A-Za-z0-9_]{2,64}$")
        league = serializers.RegexField(r"^[A-Za-z0-9_]{2,64}$", required=False, default="")
        name = serializers.CharField(required=False, default="", max_length=255)
        home = serializers.CharField(required=False, default="", max_length=128)
        away = serializers.CharField(required=False, default="", max_length=128)
        scheduled_start = serializers.DateTimeField()
        external_id = serializers.CharField(required=False, default="", max_length=128)
        markets = MarketInput(many=True, allow_empty=False, max_length=100)  # type: ignore[call-arg]

        class Meta:
            ref_name = "AdminEventCreate"

    @staticmethod
    def _market_spec(values: dict[str, Any]) -> MarketSpec:
        selections = [SelectionSpec(**s) for s in values.pop("selections")]
        return MarketSpec(selections=selections, **values)

    @extend_schema(operation_id="admin_events_create", request=Input, responses={201: EventOut})
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        markets = [self._market_spec(dict(m)) for m in values.pop("markets")]
        event = event_create(spec=EventSpec(markets=markets, **values))
        return Response(EventOut(event_get(event_id=event.pk)).data, status=201)


class AdminMarketView(APIView):
    permission_classes = [IsAdminUser]

    class Input(serializers.Serializer[Any]):
        action = serializers.ChoiceField(choices=MARKET_ACTIONS, required=False, allow_null=True)
        odds = PriceInput(many=True, required=False, max_length=100)  # type: ignore[call-arg]

        class Meta:
            ref_name = "AdminMarketUpdate"

    @extend_schema(operation_id="admin_markets_update", request=Input, responses={200: MarketOut})
    def patch(self, request: Request, market_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        market = market_update(
            market_id=market_id,
            action=data.validated_data.get("action"),
            odds={p["selection"]: p["odds"] for p in data.validated_data.get("odds", [])},
        )
        market = Market.objects.prefetch_related("selections").get(pk=market.pk)
        return Response(MarketOut(market).data)


class AdminEventResultView(APIView):
    permission_classes = [IsAdminUser]

    class Input(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Event.Status.choices, default=Event.Status.FINISHED)
        home_score = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)
        away_score = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)
        placings = PlacingInput(many=True, required=False, max_length=1000)  # type: ignore[call-arg]

        class Meta:
            ref_name = "AdminEventResult"

    @extend_schema(operation_id="admin_events_result", request=Input, responses={200: EventOut})
    def post(self, request: Request, event_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        event_result_record(
            event_id=event_id,
            status=values["status"],
            home_score=values.get("home_score"),
            away_score=values.get("away_score"),
            placings={p["selection"]: p["place"] for p in values.get("placings", [])},
        )
        return Response(EventOut(event_get(event_id=event_id)).data)
