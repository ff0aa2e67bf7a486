"""Virtual accounts: one per user, made through the provider, NUBAN-checked, BVN kept secret."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from payments.models import VirtualAccount
from payments.treasury.crypto import bvn_decrypt
from payments.treasury.nuban import nuban_check_digit, nuban_make, nuban_valid

pytestmark = pytest.mark.django_db

DETAILS = {
    "bvn": "22345678901",
    "first_name": "John",
    "last_name": "Doe",
    "phone": "+2348012345678",
    "email": "john@example.com",
}


def test_nuban_check_digit_matches_the_published_example() -> None:
    assert nuban_check_digit(bank_code="011", serial="000001457") == 9
    assert nuban_valid(bank_code="011", account_number="0000014579")
    assert not nuban_valid(bank_code="011", account_number="0000014578")
    assert not nuban_valid(bank_code="035", account_number="0000014579")  # the bank code counts
    assert not nuban_valid(bank_code="035", account_number="000001457")
    assert not nuban_valid(bank_code="035", account_number="00000145a9")
    assert nuban_valid(bank_code="035", account_number=nuban_make(bank_code="035", serial=123456789))


@pytest.fixture
def client(api: Any, ng_user: Any) -> Any:
    api.force_authenticate(ng_user)
    return api


def test_create_then_the_same_account_again(client: Any, ng_user: Any, wema: Any) -> None:
    assert client.get("/api/treasury/accounts/me").status_code == 404

    created = client.post("/api/treasury/accounts", DETAILS, format="json")
    again = client.post("/api/treasury/accounts", {**DETAILS, "first_name": "Johnny"}, format="json")

    assert created.status_code == 201, created.content
    assert again.status_code == 200
    body = created.json()
    assert again.json() == body
    assert body["bank_code"] == "035" and body["bank_name"] == "Wema Bank" and body["provider"] == "wema"
    assert nuban_valid(bank_code="035", account_number=body["account_number"])
    assert body["account_name"] == "TOTE/JOHN DOE"
    assert body["bvn"] == "*******8901"
    assert client.get("/api/treasury/accounts/me").json() == body
    assert wema.app.create_calls == 1
    assert VirtualAccount.objects.count() == 1


def test_bvn_is_encrypted_at_rest_and_never_shown_whole(client: Any, ng_user: Any, wema: Any, staff: Any) -> None:
    client.post("/api/treasury/accounts", DETAILS, format="json")
    account = VirtualAccount.objects.get()

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM payments_virtualaccount")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert DETAILS["bvn"] not in row
    assert bvn_decrypt(account.bvn_encrypted) == DETAILS["bvn"]

    from django.test import Client

    admin = Client()
    admin.force_login(staff)
    staff.is_superuser = True
    staff.save()
    listing = admin.get("/admin/payments/virtualaccount/")
    page = admin.get(f"/admin/payments/virtualaccount/{account.pk}/change/")
    for response in (listing, page):
        assert response.status_code == 200
        html = response.content.decode()
        assert "*******8901" in html
        assert DETAILS["bvn"] not in html
        assert account.bvn_encrypted not in html


def test_key_rotation_reads_old_bvns_and_writes_with_the_new_key(settings: Any) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    from payments.treasury.crypto import bvn_encrypt

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.BVN_ENCRYPTION_KEY = [old]
    old_token = bvn_encrypt("22345678901")
    settings.BVN_ENCRYPTION_KEY = [new, old]
    new_token = bvn_encrypt("22345678901")

    assert bvn_decrypt(old_token) == bvn_decrypt(new_token) == "22345678901"
    settings.BVN_ENCRYPTION_KEY = [new]
    assert bvn_decrypt(new_token) == "22345678901"
    with pytest.raises(InvalidToken):
        bvn_decrypt(old_token)


def test_provider_refusal_saves_nothing(client: Any, wema: Any) -> None:
    response = client.post("/api/treasury/accounts", {**DETAILS, "bvn": "00000000000"}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "provider_rejected"
    assert "BVN" in response.json()["error"]["message"]
    assert VirtualAccount.objects.count() == 0


def test_a_wrong_check_digit_from_the_provider_is_refused(client: Any, wema: Any) -> None:
    response = client.post("/api/treasury/accounts", {**DETAILS, "bvn": "99999999999"}, format="json")

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "provider_invalid_account"
    assert not nuban_valid(bank_code="035", account_number=error["details"]["account_number"])
    assert VirtualAccount.objects.count() == 0


def test_provider_down_is_503(client: Any, settings: Any, closed_port_url: str) -> None:
    settings.WEMA_BASE_URL = closed_port_url
    response = client.post("/api/treasury/accounts", DETAILS, format="json")
    assert response.status_code == 503
    assert VirtualAccount.objects.count() == 0


def test_wrong_api_keys_are_refused_by_the_provider(client: Any, serve: Any, settings: Any) -> None:
    from tests.fakes.wema import FakeWema

    settings.WEMA_BASE_URL = serve(FakeWema(api_key="the-bank-s-key")).url
    settings.WEMA_API_KEY = "our-mistyped-key"
    response = client.post("/api/treasury/accounts", DETAILS, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_auth_failed"
    assert "key" not in response.json()["error"]["message"].lower()
    assert VirtualAccount.objects.count() == 0


def test_two_users_get_two_accounts(api: Any, make_user: Any, wema: Any) -> None:
    numbers = set()
    for _ in range(2):
        api.force_authenticate(make_user())
        numbers.add(api.post("/api/treasury/accounts", DETAILS, format="json").json()["account_number"])
    assert len(numbers) == 2
