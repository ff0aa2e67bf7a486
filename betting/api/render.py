"""Output serializers shared by the sportsbook's views, and `?odds_format=`.

Odds are shown in the format asked for (`odds`) and always as decimal too (`odds_decimal`):
a client places bets with decimal odds, so a displayed American or fractional price never has
to be converted back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from betting.models import BetLeg, BetSlip, Event, Market, Selection
from betting.odds import FORMATS, OddsFormatError, format_odds, parse_decimal
from betting.pricing import total_odds
from core.errors import ValidationFailed
from ledger.currencies import money


def odds_format_from(request: Request) -> str:
    fmt = request.query_params.get("odds_format", "decimal")
    if fmt not in FORMATS:
        raise ValidationFailed(
            f"odds_format is one of {', '.join(FORMATS)}.", code="invalid_odds_format", details={"formats": FORMATS}
        )
    return fmt


class MoneyOut(serializers.Serializer[Any]):
    """How an amount travels: minor units, currency and a display string."""

    amount = serializers.IntegerField()
    currency = serializers.CharField()
    display = serializers.CharField()


@extend_schema_field(OpenApiTypes.STR)
class OddsField(serializers.Field[Decimal, Decimal, str, Any]):
    """Decimal odds shown in the context's `odds_format`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format_odds(value, self.context.get("odds_format", "decimal"))


@extend_schema_field(OpenApiTypes.STR)
class DecimalOddsField(serializers.Field[Decimal, Decimal, str, Any]):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return str(value)


@extend_schema_field(OpenApiTypes.STR)
class OddsInput(serializers.Field[Decimal, Decimal, str, Any]):
    """Decimal odds a client or operator sends: a string (or number) with at most 4 places."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_decimal(data if isinstance(data, str) else str(data))
        except OddsFormatError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class SelectionOut(serializers.ModelSerializer[Selection]):
    odds = OddsField()
    odds_decimal = DecimalOddsField(source="odds")
    line = serializers.DecimalField(max_digits=7, decimal_places=2, read_only=True, allow_null=True)

    class Meta:
        model = Selection
        fields = ["id", "outcome", "name", "line", "odds", "odds_decimal", "status", "result", "placing"]


class MarketOut(serializers.ModelSerializer[Market]):
    selections = SelectionOut(many=True, read_only=True)

    class Meta:
        model = Market
        fields = ["id", "kind", "name", "line", "paying_places", "status", "in_play", "selections"]


class CompetitorOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    short_name = serializers.CharField()


class EventOut(serializers.ModelSerializer[Event]):
    sport = serializers.CharField(source="sport.key")
    league = serializers.CharField(source="league.key", allow_null=True, default=None)
    home = CompetitorOut(allow_null=True)
    away = CompetitorOut(allow_null=True)
    markets = MarketOut(many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "sport",
            "league",
            "home",
            "away",
            "status",
            "scheduled_start",
            "actual_start",
            "home_score",
            "away_score",
            "result_version",
            "markets",
        ]


# The fields of LegOut and SlipOut describe the API (the OpenAPI schema and OPTIONS are built from
# them); each renders in one plain method instead of DRF's per-field machinery, which copies every
# declared field for each serializer instance and cost more than the rest of a placement's
# response. These module-level fields give the same strings DRF would.
_DATETIME = serializers.DateTimeField()
_LINE = serializers.DecimalField(max_digits=7, decimal_places=2)


def _datetime_out(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class LegOut(serializers.Serializer[Any]):
    selection = serializers.IntegerField(source="selection_id")
    event = serializers.IntegerField(source="event_id")
    event_name = serializers.CharField(source="selection.market.event.name")
    market = serializers.IntegerField(source="selection.market_id")
    market_kind = serializers.CharField(source="selection.market.kind")
    market_name = serializers.CharField(source="selection.market.name")
    outcome = serializers.CharField(source="selection.outcome")
    name = serializers.CharField(source="selection.name")
    line = serializers.DecimalField(
        source="selection.line", max_digits=7, decimal_places=2, read_only=True, allow_null=True
    )
    odds = OddsField(source="odds_placed")
    odds_decimal = DecimalOddsField(source="odds_placed")
    live = serializers.BooleanField()
    result = serializers.CharField(source="selection.result", allow_null=True)

    def to_representation(self, instance: BetLeg) -> dict[str, Any]:
        return leg_out(instance, odds_format=self.context.get("odds_format", "decimal"))


def leg_out(leg: BetLeg, *, odds_format: str) -> dict[str, Any]:
    """A leg as LegOut declares it."""
    selection = leg.selection
    market = selection.market
    line = selection.line
    result = selection.result
    return {
        "selection": int(leg.selection_id),
        "event": int(leg.event_id),
        "event_name": str(market.event.name),
        "market": int(selection.market_id),
        "market_kind": str(market.kind),
        "market_name": str(market.name),
        "outcome": str(selection.outcome),
        "name": str(selection.name),
        "line": None if line is None else _LINE.to_representation(line),
        "odds": format_odds(leg.odds_placed, odds_format),
        "odds_decimal": str(leg.odds_placed),
        "live": bool(leg.live),
        "result": None if result is None else str(result),
    }


class SlipOut(serializers.Serializer[BetSlip]):
    id = serializers.IntegerField()
    type = serializers.CharField()
    system = serializers.CharField(source="system_label", allow_null=True)
    status = serializers.CharField()
    stake = serializers.SerializerMethodField()
    potential_payout = serializers.SerializerMethodField()
    payout = serializers.SerializerMethodField()
    total_odds = serializers.SerializerMethodField()
    accept_odds = serializers.CharField()
    live = serializers.BooleanField()
    placed_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    accept_after = serializers.DateTimeField(allow_null=True)
    settled_at = serializers.DateTimeField(allow_null=True)
    reject_reason = serializers.CharField()
    legs = serializers.SerializerMethodField()

    def to_representation(self, instance: BetSlip) -> dict[str, Any]:
        slip = instance
        system = slip.system_label
        return {
            "id": int(slip.pk),
            "type": str(slip.type),
            "system": None if system is None else str(system),
            "status": str(slip.status),
            "stake": self.get_stake(slip),
            "potential_payout": self.get_potential_payout(slip),
            "payout": self.get_payout(slip),
            "total_odds": self.get_total_odds(slip),
            "accept_odds": str(slip.accept_odds),
            "live": bool(slip.live),
            "placed_at": _datetime_out(slip.placed_at),
            "accepted_at": _datetime_out(slip.accepted_at),
            "accept_after": _datetime_out(slip.accept_after),
            "settled_at": _datetime_out(slip.settled_at),
            "reject_reason": str(slip.reject_reason),
            "legs": self.get_legs(slip),
        }

    def _legs(self, obj: BetSlip) -> list[BetLeg]:
        """The legs in hand (a slip just placed: context `legs`), else the prefetched ones."""
        rows: list[BetLeg] | None = self.context.get("legs")
        return rows if rows is not None else list(obj.legs.all())

    @extend_schema_field(MoneyOut)
    def get_stake(self, obj: BetSlip) -> dict[str, object]:
        return money(obj.stake, obj.currency)

    @extend_schema_field(MoneyOut)
    def get_potential_payout(self, obj: BetSlip) -> dict[str, object]:
        return money(obj.potential_payout, obj.currency)

    @extend_schema_field(MoneyOut(allow_null=True))
    def get_payout(self, obj: BetSlip) -> dict[str, object] | None:
        return money(obj.payout, obj.currency) if obj.payout is not None else None

    def get_total_odds(self, obj: BetSlip) -> str | None:
        if obj.type == BetSlip.Type.SYSTEM:
            return None  # a system is many parlays: no single price
        odds = total_odds([leg.odds_placed for leg in self._legs(obj)])
        return format_odds(odds, self.context.get("odds_format", "decimal"))

    @extend_schema_field(LegOut(many=True))
    def get_legs(self, obj: BetSlip) -> list[dict[str, Any]]:
        odds_format = self.context.get("odds_format", "decimal")
        return [leg_out(leg, odds_format=odds_format) for leg in self._legs(obj)]
