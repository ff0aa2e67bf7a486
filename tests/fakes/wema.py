"""A local Wema Bank: static virtual accounts, and signed deposit notifications sent to us.

- `POST /v1/virtual-accounts` (headers `Ocp-Apim-Subscription-Key`, `x-api-key`) with
  `{reference, bvn, firstName, lastName, phoneNumber, email}` makes a static account whose NUBAN
  (bank code 035) carries a valid check digit; the same reference returns the same account.
  BVN `00000000000` is refused (unverifiable); BVN `99999999999` gets a number whose check digit
  is wrong, so the caller's verification can be seen to work.
- `POST /_fake/deposit {"account_number", "amount" (naira), "reference"?, "form"?, "url"?}` sends
  a transfer notification to our webhook, signed `X-Wema-Signature` = hex HMAC-SHA512 of the
  raw body; `form` is "design" (the original design's body, the default) or "alat".
- `GET /_fake/accounts` lists the accounts made.

The NUBAN arithmetic is written out here again, apart from the application's, on purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from werkzeug.wrappers import Request, Response

BANK_CODE = "035"
WEIGHTS = (3, 7, 3, 3, 7, 3, 3, 7, 3, 3, 7, 3)


def check_digit(bank_code: str, serial: str) -> str:
    total = sum(int(d) * w for d, w in zip(bank_code + serial, WEIGHTS, strict=True))
    return str((10 - total % 10) % 10)


def deposit_body(
    *,
    account_number: str,
    amount: Any,
    reference: str | None = None,
    form: str = "design",
    sender_name: str = "MARY JANE",
    narration: str = "Deposit to Tote",
) -> bytes:
    """A transfer notification as Wema sends it, in the original design's form or ALAT's."""
    reference = reference or f"WEMA-TXN-{uuid.uuid4().hex[:12].upper()}"
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if form == "alat":
        payload: dict[str, Any] = {
            "originatoraccountnumber": "0123456789",
            "amount": str(amount),
            "currency": "NGN",
            "originatorname": sender_name,
            "narration": narration,
            "craccountname": "TOTE/ACCOUNT",
            "paymentreference": reference,
            "reference": reference,
            "bankname": "Access Bank",
            "sessionid": reference,
            "craccount": account_number,
            "bankcode": "044",
            "created_at": now,
        }
    else:
        payload = {
            "account_number": account_number,
            "amount": amount,
            "transaction_reference": reference,
            "sender_name": sender_name,
            "sender_account": "9876543210",
            "sender_bank": "Access Bank",
            "narration": narration,
            "transaction_date": now,
        }
    return json.dumps(payload).encode()


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class FakeWema:
    def __init__(
        self, *, subscription_key: str | None = None, api_key: str | None = None, webhook_secret: str | None = None
    ) -> None:
        self._subscription_key = subscription_key
        self._api_key = api_key
        self._webhook_secret = webhook_secret
        self.lock = threading.Lock()
        self.accounts: dict[str, dict[str, Any]] = {}  # by reference
        self.numbers: set[str] = set()
        self.create_calls = 0

    def _setting(self, given: str | None, name: str) -> str:
        if given is not None:
            return given
        from django.conf import settings

        return str(getattr(settings, name))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.dispatch(Request(environ))(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path == "/v1/virtual-accounts" and request.method == "POST":
            return self.create_account(request)
        if request.path == "/_fake/accounts":
            with self.lock:
                return _json(list(self.accounts.values()))
        if request.path == "/_fake/deposit" and request.method == "POST":
            return self.send_deposit(request.get_json(force=True))
        return _json({"code": "404", "message": f"no route {request.path}"}, 404)

    def create_account(self, request: Request) -> Response:
        if not hmac.compare_digest(
            request.headers.get("Ocp-Apim-Subscription-Key", ""),
            self._setting(self._subscription_key, "WEMA_SUBSCRIPTION_KEY"),
        ) or not hmac.compare_digest(
            request.headers.get("x-api-key", ""), self._setting(self._api_key, "WEMA_API_KEY")
        ):
            return _json({"code": "401", "message": "Access denied: bad subscription or API key"}, 401)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return _json({"code": "400", "message": "body is not JSON"}, 400)
        missing = [k for k in ("reference", "bvn", "firstName", "lastName", "phoneNumber", "email") if not body.get(k)]
        if missing:
            return _json({"code": "400", "message": f"missing {', '.join(missing)}"}, 400)
        bvn = str(body["bvn"])
        if not re.fullmatch(r"[0-9]{11}", bvn) or bvn == "00000000000":
            return _json({"code": "BVN_INVALID", "message": "The BVN could not be verified"}, 400)
        with self.lock:
            self.create_calls += 1
            account = self.accounts.get(body["reference"])
            if account is None:
                serial = int(hashlib.sha256(body["reference"].encode()).hexdigest(), 16) % 10**9
                while True:
                    digits = f"{serial:09d}"
                    number = digits + check_digit(BANK_CODE, digits)
                    if bvn == "99999999999":
                        number = digits + str((int(number[-1]) + 1) % 10)
                    if number not in self.numbers:
                        break
                    serial = (serial + 1) % 10**9
                self.numbers.add(number)
                account = {
                    "accountNumber": number,
                    "accountName": f"TOTE/{body['firstName']} {body['lastName']}".upper(),
                    "bankName": "Wema Bank",
                    "bankCode": BANK_CODE,
                    "reference": body["reference"],
                    "status": "active",
                    "balance": 0,
                }
                self.accounts[body["reference"]] = account
        return _json({"status": "success", "data": account}, 201)

    def send_deposit(self, spec: dict[str, Any]) -> Response:
        from django.conf import settings

        body = deposit_body(
            account_number=str(spec["account_number"]),
            amount=spec["amount"],
            reference=spec.get("reference"),
            form=spec.get("form", "design"),
            sender_name=spec.get("sender_name", "MARY JANE"),
        )
        signature = sign(body, self._setting(self._webhook_secret, "WEMA_WEBHOOK_SECRET"))
        url = spec.get("url") or f"{settings.PUBLIC_BASE_URL}/api/treasury/webhook"
        answer = httpx.post(
            url, content=body, headers={"Content-Type": "application/json", "X-Wema-Signature": signature}, timeout=10
        )
        return _json({"sent": json.loads(body), "status": answer.status_code, "answer": answer.text})


def make_app(**kwargs: Any) -> FakeWema:
    return FakeWema(**kwargs)
