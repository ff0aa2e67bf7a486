"""Sign-up, tokens, the caller's profile, wallets and history, as a front end sees them."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from users.models import User

pytestmark = pytest.mark.django_db


def test_signup_then_login_then_wallets(api: APIClient, fund: Any) -> None:
    created = api.post(
        "/api/users",
        {"username": "ada", "password": "correct-horse-battery", "email": "ada@example.com"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["username"] == "ada"
    assert "password" not in created.json()

    tokens = api.post("/api/auth/token", {"username": "ada", "password": "correct-horse-battery"}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get("/api/me").json()["email"] == "ada@example.com"

    fund(User.objects.get(username="ada"), 150_000)
    wallets = api.get("/api/wallets").json()["results"]
    assert wallets == [
        {
            "currency": "NGN",
            "available": {"amount": 150_000, "currency": "NGN", "display": "NGN 1,500.00"},
            "receivable": {"amount": 0, "currency": "NGN", "display": "NGN 0.00"},
        }
    ]

    refreshed = api.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200 and refreshed.json()["access"]


def test_history_is_own_paginated_and_newest_first(auth_api: APIClient, user: Any, make_user: Any, fund: Any) -> None:
    for amount in (100, 200, 300):
        fund(user, amount)
    fund(make_user(), 999)  # someone else's money never shows
    page = auth_api.get("/api/wallets/NGN/transactions?page_size=2").json()
    assert page["count"] == 3
    assert [row["amount"]["amount"] for row in page["results"]] == [300, 200]
    assert page["results"][0]["kind"] == "deposit"
    assert page["next"]
    assert auth_api.get("/api/wallets/XYZ/transactions").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x", "password": "correct-horse-battery"},  # too short a username
        {"username": "okname", "password": "short"},
        {"username": "okname", "password": "12345678901"},  # numeric-only password
        {"username": "okname", "password": "correct-horse-battery", "default_currency": "XYZ"},
        {"username": "okname"},
    ],
)
def test_bad_signups_are_400_and_create_nothing(api: APIClient, body: dict[str, Any]) -> None:
    response = api.post("/api/users", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"validation_error", "weak_password"}
    assert not User.objects.filter(username=body.get("username")).exists()


def test_taken_username_is_409(api: APIClient, make_user: Any) -> None:
    make_user(username="taken")
    response = api.post("/api/users", {"username": "taken", "password": "correct-horse-battery"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_exists"


def test_auth_required_and_bad_tokens(api: APIClient) -> None:
    missing = api.get("/api/wallets")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "not_authenticated"
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    bad = api.get("/api/me")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"


def test_a_token_of_a_deactivated_or_unknown_user_is_refused(api: APIClient, make_user: Any) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    user = make_user()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert api.get("/api/me").json()["username"] == user.username

    User.objects.filter(pk=user.pk).update(is_active=False)
    inactive = api.get("/api/me")
    assert inactive.status_code == 401
    assert inactive.json()["error"]["code"] == "authentication_failed"
    assert "User is inactive" in inactive.json()["error"]["message"]

    token = AccessToken.for_user(user)
    token["user_id"] = user.pk + 1_000_000
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    gone = api.get("/api/me")
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "authentication_failed"
    assert "User not found" in gone.json()["error"]["message"]


def test_a_token_used_before_is_refused_once_it_expires(api: APIClient, make_user: Any) -> None:
    from datetime import UTC, datetime, timedelta

    import time_machine
    from rest_framework_simplejwt.tokens import AccessToken

    user = make_user()
    token = AccessToken.for_user(user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/me").status_code == 200
    assert api.get("/api/me").status_code == 200  # the second time from what the first verified

    with time_machine.travel(datetime.fromtimestamp(token["exp"], UTC) + timedelta(seconds=1)):
        expired = api.get("/api/me")

    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "authentication_failed"
    assert "expired" in expired.json()["error"]["message"]
