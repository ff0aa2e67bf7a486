"""Wema Bank (ALAT) virtual accounts: the create call and the transfer notification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from core.errors import DependencyDown
from core.http import HttpClient
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
    major_to_minor,
    object_field,
    text_field,
)
from payments.treasury.nuban import WEMA_BANK_CODE

log = structlog.get_logger(__name__)

# Where each form of the notification keeps each fact. ALAT's de-duplication key is `sessionid`.
_ALAT_FIELDS = {
    "account": "craccount",
    "reference": "sessionid",
    "sender_name": "originatorname",
    "sender_account": "originatoraccountnumber",
    "sender_bank": "bankname",
    "date": "created_at",
}
_DESIGN_FIELDS = {
    "account": "account_number",
    "reference": "transaction_reference",
    "sender_name": "sender_name",
    "sender_account": "sender_account",
    "sender_bank": "sender_bank",
    "date": "transaction_date",
}


class WemaAdapter:
    """Wema Bank's virtual accounts. Its API is not publicly documented: the create call follows
    the original design (`POST /v1/virtual-accounts`, camelCase fields, our `reference` making it
    repeatable); notifications come in the original design's form or ALAT's (see PROVIDERS.md)."""

    name = "wema"

    def __init__(
        self, *, base_url: str, subscription_key: str, api_key: str, webhook_secret: str, timeout_s: float
    ) -> None:
        self.webhook_secret = webhook_secret
        self._client = LazyClient(
            service="wema",
            base_url=base_url,
            timeout_s=timeout_s,
            headers={"Ocp-Apim-Subscription-Key": subscription_key, "x-api-key": api_key},
        )

    @property
    def http(self) -> HttpClient:
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def account_create(
        self, *, reference: str, bvn: str, first_name: str, last_name: str, phone: str, email: str
    ) -> ProviderAccount:
        # Retries are safe: the same reference returns the same account.
        response = self.http.request(
            "POST",
            "/v1/virtual-accounts",
            json={
                "reference": reference,
                "bvn": bvn,
                "firstName": first_name,
                "lastName": last_name,
                "phoneNumber": phone,
                "email": email,
            },
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            # Our keys are wrong: nothing the user can change, so not their error to read.
            log.error("wema.auth_refused", status=response.status_code)
            raise DependencyDown("The bank refused our credentials.", code="provider_auth_failed")
        if response.status_code >= 500 or not isinstance(body, dict):
            raise ProviderBadResponse(f"Wema answered HTTP {response.status_code}.")
        if response.status_code >= 400:
            raise ProviderRejected(
                str(body.get("message") or "Wema refused to create the account."),
                details={"provider_code": str(body.get("code") or response.status_code)},
            )
        data = object_field(body.get("data")) or body
        number = data.get("accountNumber")
        if not isinstance(number, str):
            raise ProviderBadResponse("Wema returned no account number.")
        return ProviderAccount(
            account_number=number,
            account_name=str(data.get("accountName") or f"{first_name} {last_name}".upper())[:255],
            bank_name=str(data.get("bankName") or "Wema Bank")[:128],
            bank_code=str(data.get("bankCode") or WEMA_BANK_CODE),
            reference=str(data.get("reference") or reference)[:128],
        )

    def deposit_parse(self, *, body: bytes, headers: Mapping[str, str]) -> InboundDeposit | None:
        signature_verify(
            secret=self.webhook_secret,
            body=body,
            signature=headers.get("X-Wema-Signature"),
            digestmod=SHA512,
            header="X-Wema-Signature",
        )
        payload = json_body(body)
        # ALAT's inbound transfer notification, or the original design's webhook.
        names = _ALAT_FIELDS if "sessionid" in payload or "craccount" in payload else _DESIGN_FIELDS
        return InboundDeposit(
            account_number=account_number_field(payload, names["account"]),
            amount=major_to_minor(payload.get("amount")),
            currency=text_field(payload, "currency", max_length=8).upper() or "NGN",
            reference=text_field(payload, names["reference"], required=True, max_length=128),
            sender_name=text_field(payload, names["sender_name"]),
            sender_account=text_field(payload, names["sender_account"], max_length=32),
            sender_bank=text_field(payload, names["sender_bank"], max_length=128),
            narration=text_field(payload, "narration"),
            transaction_date=date_field(payload, names["date"]),
            payload=jsonable(payload),
        )

    def deposit_ack(self, *, reference: str, record_id: int, duplicate: bool) -> dict[str, Any]:
        return {
            "ref": str(record_id),
            "transactionreference": reference,
            "status": "00",
            "status_desc": "duplicate, already credited" if duplicate else "credited",
        }
