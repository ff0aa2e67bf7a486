from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from core.auth import request_user_id
from realtime.tickets import ticket_issue


class TicketThrottle(UserRateThrottle):
    scope = "realtime_ticket"


class TicketView(APIView):
    """A single-use ticket that opens one /ws/bets/ connection within `expires_in` seconds."""

    throttle_classes = [TicketThrottle]

    class Output(serializers.Serializer[Any]):
        ticket = serializers.CharField()
        expires_in = serializers.IntegerField(help_text="Seconds.")
        url = serializers.CharField(help_text="Path to open, with the ticket.")

    @extend_schema(operation_id="realtime_ticket", request=None, responses={201: Output})
    def post(self, request: Request) -> Response:
        issued = ticket_issue(user_id=request_user_id(request))
        body = {"ticket": issued.ticket, "expires_in": issued.expires_in, "url": f"/ws/bets/?ticket={issued.ticket}"}
        return Response(self.Output(body).data, status=201)
