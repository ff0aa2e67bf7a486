from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.auth import request_user_id
from ledger.currencies import CURRENCY_CHOICES
from users.models import User
from users.services import user_create


class UserOutput(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username", "email", "default_currency", "is_staff", "date_joined"]


class SignupThrottle(AnonRateThrottle):
    scope = "signup"


class SignupView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [SignupThrottle]

    class SignupInput(serializers.Serializer[Any]):
        username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
        password = serializers.CharField(min_length=8, max_length=128, write_only=True)
        email = serializers.EmailField(required=False, allow_null=True)
        default_currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, default="NGN")

    @extend_schema(operation_id="users_signup", request=SignupInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        data = self.SignupInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(**data.validated_data)
        return Response(UserOutput(user).data, status=201)


class MeView(APIView):
    @extend_schema(operation_id="me", responses={200: UserOutput})
    def get(self, request: Request) -> Response:
        return Response(UserOutput(User.objects.get(pk=request_user_id(request))).data)
