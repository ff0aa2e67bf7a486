"""How API requests authenticate: simplejwt's bearer tokens, with the user read cheaply.

Its own module, with no import of ours: DRF loads it while `rest_framework.views` is still being
imported, so it must not import anything that imports DRF's views (core.errors does).
"""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils.translation import gettext as _
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import get_md5_hash_password

# Tokens already verified, by their exact text: a client sends the same access token with every
# request for its lifetime, and verifying it (signature, claims) cost as much as a query.
_verified: dict[bytes, Token] = {}
VERIFIED_TOKENS_KEPT = 10_000
# A remembered token is used only while it is this far from expiring; nearer, it is verified
# afresh, so an expired token meets simplejwt's own refusal.
EXPIRY_MARGIN_S = 5


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's JWTAuthentication, with the user read by one hand-written query and each token
    verified once.

    Every authenticated request reads its user, and the ORM's queryset machinery cost several
    times the query itself. The checks, their order and their errors are simplejwt's: the token's
    signature and claims, then that the user exists, is active, and (with CHECK_REVOKE_TOKEN)
    that the token was issued for its password. A token seen before skips only the signature and
    its fixed claims, which cannot have changed; the user is read on every request.
    """

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _verified.get(raw_token)
        now = time.time()
        if token is not None and "nbf" not in token.payload and token.get("iat", now) <= now:
            if token["exp"] > now + EXPIRY_MARGIN_S:
                return token
        token = super().get_validated_token(raw_token)
        if len(_verified) >= VERIFIED_TOKENS_KEPT:
            _verified.clear()
        _verified[raw_token] = token
        return token

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e

        user = user_by(api_settings.USER_ID_FIELD, user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")

        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")

        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")

        return user


_selects: dict[str, tuple[str, list[str]]] = {}


def user_by(field: str, value: Any) -> AbstractBaseUser | None:
    """The user whose `field` (a unique one) is `value`, as `User.objects.get` would give it."""
    model = get_user_model()
    if field not in _selects:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        columns = ", ".join(quote(f.column) for f in fields)
        key = model._meta.get_field(field)
        table, column = quote(model._meta.db_table), quote(getattr(key, "column", field))
        # Every name comes from the model's own meta; the value is a parameter.
        _selects[field] = (f"SELECT {columns} FROM {table} WHERE {column} = %s", [f.attname for f in fields])  # noqa: S608
    select, attnames = _selects[field]
    with connection.cursor() as cursor:
        cursor.execute(select, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(connection.alias, attnames, row)
