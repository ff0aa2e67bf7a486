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
from rest_framework.request import Request
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


class DeferredUser:
    """The user a verified token names, not read yet: a view that reads its user in a statement of
    its own (bet placement, `user_read_deferred`) saves the round trip authentication would take.

    It stands for an authenticated user with the token's id until `verify` is given what the
    view's statement read of it, which raises simplejwt's refusals as `get_user` would; a view
    that fails before it reads calls `verify_now` first, so a refused user still meets 401 before
    any other error, as it would have with the user read up front.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(self, authenticator: JWTAuthentication, token: Token, user_id: int) -> None:
        self.authenticator = authenticator
        self.token = token
        self.pk = self.id = user_id
        self.verified = False

    def verify(self, account: list[Any] | None) -> None:
        """`account` is `[is_active, password]` of the user's row (ACCOUNT_COLUMN), or None."""
        self.authenticator.user_check(self.token, None if account is None else _Account(*account))
        self.verified = True

    def verify_now(self) -> None:
        if not self.verified:
            self.authenticator.user_check(self.token, user_by(api_settings.USER_ID_FIELD, self.pk))
            self.verified = True


class _Account:
    def __init__(self, is_active: bool, password: str) -> None:
        self.is_active, self.password = is_active, password


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

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        """simplejwt's, with the user left to the view where its method is `user_read_deferred`
        and the token names the user by primary key."""
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        validated_token = self.get_validated_token(raw_token)
        view = (request.parser_context or {}).get("view")
        if request.method in getattr(view, "user_read_deferred", ()) and api_settings.USER_ID_FIELD in ("id", "pk"):
            try:
                user_id = validated_token[api_settings.USER_ID_CLAIM]
            except KeyError as e:
                raise InvalidToken(_("Token contained no recognizable user identification")) from e
            # simplejwt writes the id as text; anything but a plain whole number is read as ever.
            if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit() and len(user_id) <= 18:
                user_id = int(user_id)
            if isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id < 2**63:
                return DeferredUser(self, validated_token, user_id), validated_token
        return self.get_user(validated_token), validated_token

    def get_user(self, validated_token: Token) -> Any:
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as e:
            raise InvalidToken(_("Token contained no recognizable user identification")) from e

        user = user_by(api_settings.USER_ID_FIELD, user_id)
        self.user_check(validated_token, user)
        return user

    def user_check(self, validated_token: Token, user: Any) -> None:
        """simplejwt's checks of the user a token names (None: no such user)."""
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")

        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")

        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")


def account_column() -> str:
    """What DeferredUser.verify needs of the user `%(user)s` (a named parameter: the primary key),
    for a statement's select list: `[is_active, password]`, or null when there is no such user."""
    model = get_user_model()
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    # Names from the model's own meta; the value is a parameter.
    return f"(SELECT json_build_array(is_active, password) FROM {table} WHERE {pk} = %(user)s)"  # noqa: S608


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
