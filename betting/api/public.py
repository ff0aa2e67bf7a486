"""The catalogue (public) and the player's bets."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.api.render import EventOut, OddsInput, SlipOut, odds_format_from
from betting.models import BetSlip, Event
from betting.odds import OddsFormatError, parse_decimal
from betting.selectors import event_get, events_list, slip_get, slips_for_user
from betting.services import LegRequest, Placement, bet_place
from core.auth import request_user_id
from core.authentication import DeferredUser
from core.idempotency import Recording, Replay, idempotency_key_from, replay_response, stored_answer
from ledger.currencies import CURRENCY_CHOICES

ODDS_FORMAT = OpenApiParameter("odds_format", str, enum=["decimal", "american", "fractional"], required=False)


class EventsView(ListAPIView[Event]):
    """Fixtures and their markets; filters: sport, league, status (comma list), starts_after,
    starts_before (ISO-8601), q (text in the name or a team's)."""

    permission_classes = [AllowAny]
    serializer_class = EventOut

    class Filters(serializers.Serializer[Any]):
        class Meta:
            ref_name = "EventFilters"

        sport = serializers.CharField(required=False)
        league = serializers.CharField(required=False)
        status = serializers.CharField(required=False)
        starts_after = serializers.DateTimeField(required=False)
        starts_before = serializers.DateTimeField(required=False)
        q = serializers.CharField(required=False, max_length=100)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "odds_format": odds_format_from(self.request)}

    def get_queryset(self) -> Any:
        filters = self.Filters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        return events_list(
            sport=values.get("sport"),
            league=values.get("league"),
            status=values.get("status"),
            starts_after=values.get("starts_after"),
            starts_before=values.get("starts_before"),
            text=values.get("q"),
        )

    @extend_schema(operation_id="events_list", parameters=[Filters, ODDS_FORMAT])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class EventDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="events_detail", parameters=[ODDS_FORMAT], responses={200: EventOut})
    def get(self, request: Request, event_id: int) -> Response:
        event = event_get(event_id=event_id)
        return Response(EventOut(event, context={"odds_format": odds_format_from(request)}).data)


class LegInput(serializers.Serializer[Any]):
    selection = serializers.IntegerField(min_value=1)
    odds = OddsInput(required=False, allow_null=True)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, no floats, no booleans (amounts are whole minor units)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class BetsView(ListAPIView[BetSlip]):
    """The player's own slips, newest first (`?status=pending,won`), and placing one."""

    serializer_class = SlipOut
    # Placing reads the player in its own first statement (core.authentication.DeferredUser).
    user_read_deferred = frozenset({"POST"})

    class Input(serializers.Serializer[Any]):
        type = serializers.ChoiceField(choices=BetSlip.Type.choices)
        system = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=8)
        stake = StrictIntegerField(min_value=1)
        currency = serializers.ChoiceField(choices=CURRENCY_CHOICES)
        legs = LegInput(many=True, allow_empty=False, max_length=50)  # type: ignore[call-arg]
        accept_odds = serializers.ChoiceField(choices=BetSlip.AcceptOdds.choices, default=BetSlip.AcceptOdds.BETTER)

        class Meta:
            ref_name = "BetPlace"

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "odds_format": odds_format_from(self.request)}

    def get_queryset(self) -> Any:
        return slips_for_user(user_id=request_user_id(self.request), status=self.request.query_params.get("status"))

    @extend_schema(operation_id="bets_list", parameters=[OpenApiParameter("status", str, required=False), ODDS_FORMAT])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="bets_place",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True), ODDS_FORMAT],
        request=Input,
        responses={201: SlipOut, 202: SlipOut},
    )
    def post(self, request: Request) -> HttpResponse:
        # Idempotent as `core.idempotency.idempotent` makes a view, but inside the placement's own
        # transaction (see Recording): the lock, the stored answer and storing this one cost no
        # round trip of their own.
        try:
            recording = Recording.of(request, idempotency_key_from(request))
        except Exception:
            _user_verified(request)
            raise
        try:
            return self._place(request, recording)
        except Replay as replay:
            return replay_response(replay.stored, recording)
        except Exception:
            # Refused before placement read the user and the stored answer (the body): a refused
            # user first, then the stored answer or its 409 when there is one, as when both
            # were read before the view.
            _user_verified(request)
            if not recording.checked and (stored := stored_answer(recording)) is not None:
                return stored
            raise

    def _place(self, request: Request, recording: Recording) -> Response:
        values = placing_input_plain(request.data)
        if values is None:
            data = self.Input(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
        odds_format = odds_format_from(request)

        def answer(placement: Placement) -> tuple[int, Any]:
            slip = placement.slip
            body = SlipOut(slip, context={"odds_format": odds_format, "legs": placement.legs}).data
            return 202 if slip.status == BetSlip.Status.AWAITING else 201, body

        placement = bet_place(
            user_id=request_user_id(request),
            slip_type=values["type"],
            stake=values["stake"],
            currency=values["currency"],
            legs=[LegRequest(selection_id=leg["selection"], odds=leg.get("odds")) for leg in values["legs"]],
            idempotency_key=recording.key,
            accept_odds=values["accept_odds"],
            system=values.get("system") or None,
            recording=recording,
            answer=answer,
        )
        status, body = placement.answer if placement.answer is not None else answer(placement)
        return Response(body, status=status)


def _user_verified(request: Request) -> None:
    """Read and check a user authentication left to the view, unless placement did (401 if refused)."""
    if isinstance(request.user, DeferredUser):
        request.user.verify_now()


_SLIP_TYPES = frozenset(BetSlip.Type.values)
_ODDS_POLICIES = frozenset(BetSlip.AcceptOdds.values)
_CURRENCIES = frozenset(code for code, _ in CURRENCY_CHOICES)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _plain_text(value: Any, *, max_length: int) -> bool:
    """A string CharField would keep as it is: printable ASCII, nothing to trim, short enough."""
    return (
        isinstance(value, str)
        and len(value) <= max_length
        and value.isascii()
        and value.isprintable()
        and value == value.strip()
    )


def placing_input_plain(data: Any) -> dict[str, Any] | None:
    """A well-formed placing body read without DRF, or None for the Input serializer to judge.

    Every placement passes through here, where the serializer's field machinery cost as much as
    a database round trip. Only a body the serializer would accept as it is comes back (JSON
    integers, strings with nothing to trim, known choices), with the values the serializer would
    give; anything else, valid in a looser form or not, goes to the serializer, which gives the
    same values or the same errors as ever.
    """
    if not isinstance(data, dict):
        return None
    slip_type, stake, currency, legs = data.get("type"), data.get("stake"), data.get("currency"), data.get("legs")
    accept_odds = data.get("accept_odds", BetSlip.AcceptOdds.BETTER)
    system = data.get("system")
    if not (
        isinstance(slip_type, str)
        and slip_type in _SLIP_TYPES
        and _whole(stake)
        and isinstance(currency, str)
        and currency in _CURRENCIES
        and isinstance(accept_odds, str)
        and accept_odds in _ODDS_POLICIES
        and (system is None or _plain_text(system, max_length=8))
        and isinstance(legs, list)
        and 1 <= len(legs) <= 50
    ):
        return None
    read: list[dict[str, Any]] = []
    for leg in legs:
        if not isinstance(leg, dict) or not _whole(leg.get("selection")):
            return None
        odds = leg.get("odds")
        if odds is not None:
            if not isinstance(odds, str):
                return None
            try:
                odds = parse_decimal(odds)
            except OddsFormatError:
                return None
        read.append({"selection": leg["selection"], "odds": odds})
    return {
        "type": slip_type,
        "stake": stake,
        "currency": currency,
        "legs": read,
        "accept_odds": accept_odds,
        "system": system,
    }


class BetDetailView(APIView):
    @extend_schema(operation_id="bets_detail", parameters=[ODDS_FORMAT], responses={200: SlipOut})
    def get(self, request: Request, slip_id: int) -> Response:
        slip = slip_get(user_id=request_user_id(request), slip_id=slip_id)
        return Response(SlipOut(slip, context={"odds_format": odds_format_from(request)}).data)
