"""Paystack dedicated virtual accounts, with Wema as the bank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from core.errors import DependencyDown, ValidationFailed
from core.http import HttpClient
from ledger.currencies import MAX_AMOUNT
from payments.topup.inbound import SHA512, signature_verify
from payments.treasury.adapters import (
    InboundDeposit,
    LazyClient,
    ProviderAccount,
    ProviderBadResponse,
    ProviderRejected,
    account_number_field,
    date_field,
    json_body,
    jsonable,
    object_field,
    text_field,
)
from payments.treasury.nuban import WEMA_BANK_CODE

log = structlog.get_logger(__name__)


class PaystackAdapter:
    """Paystack dedicated virtual accounts with `preferred_bank: wema-bank`.

    Creating: a customer (`POST /customer`), then its dedicated account (`POST /dedicated_account`),
    both answered at once. Deposits: `charge.success` events on the `dedicated_nuban` channel,
    signed `x-paystack-signature` = hex HMAC-SHA512 of the raw body with the secret key.
    """

    name = "paystack"
    BANK_CODES = {"wema-bank": WEMA_BANK_CODE}

    def __init__(self, *, base_url: str, secret_key: str, timeout_s: float) -> None:
        self.secret_key = secret_key
        self._client = LazyClient(
            service="paystack",
            base_url=base_url,
            timeout_s=timeout_s,
            headers={"Authorization": f"Bearer {secret_key}"},
        )

    @property
    def http(self) -> HttpClient:
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request("POST", path, json=body)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code in (401, 403):
            log.error("paystack.auth_refused", status=response.status_code)
            raise DependencyDown("Paystack refused our credentials.", code="provider_auth_failed")
        if response.status_code >= 500 or not isinstance(answer, dict):
            raise ProviderBadResponse(f"Paystack answered HTTP {response.status_code}.")
        if response.status_code >= 400 or answer.get("status") is not True:
            raise ProviderRejected(str(answer.get("message") or "Paystack refused the request."))
        data = answer.get("data")
        if not isinstance(data, dict):
            raise ProviderBadResponse("Paystack answered without data.")
        return data

    def account_create(
        self, *, reference: str, bvn: str, first_name: str, last_name: str, phone: str, email: str
    ) -> ProviderAccount:
        # Paystack keeps one customer per email and one dedicated account per customer and bank,
        # so repeating these two calls returns the same account.
        customer = self._post(
            "/customer",
            {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "phone": phone,
                "metadata": {"reference": reference},
            },
        )
        code = customer.get("customer_code")
        if not isinstance(code, str) or not code:
            raise ProviderBadResponse("Paystack returned no customer code.")
        account = self._post("/dedicated_account", {"customer": code, "preferred_bank": "wema-bank", "phone": phone})
        bank = object_field(account.get("bank"))
        slug = str(bank.get("slug") or "")
        if slug not in self.BANK_CODES:
            raise ProviderBadResponse(f"Paystack gave an account at {slug or 'an unknown bank'}, not Wema.")
        number = account.get("account_number")
        if not isinstance(number, str):
            raise ProviderBadResponse("Paystack returned no account number.")
        return ProviderAccount(
            account_number=number,
            account_name=str(account.get("account_name") or f"{first_name} {last_name}".upper())[:255],
            bank_name=str(bank.get("name") or "Wema Bank")[:128],
            bank_code=self.BANK_CODES[slug],
            reference=code,
        )

    def deposit_parse(self, *, body: bytes, headers: Mapping[str, str]) -> InboundDeposit | None:
        signature_verify(
            secret=self.secret_key,
            body=body,
            signature=headers.get("x-paystack-signature"),
            digestmod=SHA512,
            header="x-paystack-signature",
        )
        payload = json_body(body)
        data = payload.get("data")
        if payload.get("event") != "charge.success" or not isinstance(data, dict):
            return None
        if data.get("channel") != "dedicated_nuban":
            return None
        auth = object_field(data.get("authorization"))
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
            raise ValidationFailed("data.amount must be a positive whole number of kobo.", code="malformed_body")
        return InboundDeposit(
            account_number=account_number_field(auth, "receiver_bank_account_number"),
            amount=amount,
            currency=text_field(data, "currency", max_length=8).upper() or "NGN",
            reference=text_field(data, "reference", required=True, max_length=128),
            sender_name=text_field(auth, "sender_name"),
            sender_account=text_field(auth, "sender_bank_account_number", max_length=32),
            sender_bank=text_field(auth, "sender_bank", max_length=128),
            narration=text_field(auth, "narration"),
            transaction_date=date_field(data, "paid_at"),
            payload=jsonable(payload),
        )

    def deposit_ack(self, *, reference: str, record_id: int, duplicate: bool) -> dict[str, Any]:
        return {"received": True}
