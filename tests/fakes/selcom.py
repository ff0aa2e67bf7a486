"""A local Selcom API gateway: utility payments (airtime) and their status query.

Checks every request's signature exactly as Selcom documents it (PROVIDERS.md), written here
apart from our adapter so that a mistake in one is caught by the other:
`Authorization: SELCOM base64(api_key)`, `Digest-Method: HS256`, `Timestamp` (`+03:00` or
`+0300`), `Signed-Fields`, and `Digest = base64(HMAC-SHA256(api_secret,
"timestamp=<ts>&<field>=<value>&..."))` over the JSON body's fields (POST) or the query (GET).

Outcomes are scripted by the msisdn's last four digits, so the demo and the tests drive them:

| ends in | payment answers | later queries answer |
| --- | --- | --- |
| 0001 | FAIL (051) | FAIL |
| 0002 | INPROGRESS (111) | SUCCESS |
| 0003 | INPROGRESS (927) | FAIL |
| 0004 | AMBIGOUS (999) | SUCCESS |
| 0005 | AMBIGOUS (999) | AMBIGOUS, for ever |
| 0006 | slow: answers after `slow_s` (then SUCCESS) | SUCCESS |
| 0007 | down: HTTP 503, nothing recorded | not found (FAIL) |
| 0008 | INPROGRESS | INPROGRESS once, then SUCCESS |
| other | SUCCESS (000) | SUCCESS |

`POST /_fake/script {"msisdn", "process", "queries": [...]}` sets any other sequence (codes, or
"SLOW"/"DOWN"); `GET /_fake/transactions` shows what was received (tests assert a payment was
sent once); `POST /_fake/callback {"transid", "url"?, "status"?}` sends our signed callback;
`POST /_fake/reset` forgets everything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from werkzeug.wrappers import Request, Response

PAY_FIELDS = ("transid", "utilitycode", "utilityref", "amount", "vendor", "pin", "msisdn")
RESULTS = {"000": "SUCCESS", "111": "INPROGRESS", "927": "INPROGRESS", "999": "AMBIGOUS"}
SCRIPTS: dict[str, tuple[str, list[str]]] = {
    "0001": ("051", ["051"]),
    "0002": ("111", ["000"]),
    "0003": ("927", ["051"]),
    "0004": ("999", ["000"]),
    "0005": ("999", ["999"]),
    "0006": ("SLOW", ["000"]),
    "0007": ("DOWN", ["404"]),
    "0008": ("111", ["111", "000"]),
}
DEFAULT_SCRIPT = ("000", ["000"])


@dataclass
class Payment:
    transid: str
    msisdn: str
    amount: int
    utilitycode: str
    reference: str
    process_calls: int = 1
    query_calls: int = 0
    last_code: str = ""
    answered: list[str] = field(default_factory=list)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _envelope(transid: str, reference: str, code: str, message: str = "", data: list[Any] | None = None) -> Response:
    result = RESULTS.get(code, "FAIL")
    return _json(
        {
            "transid": transid,
            "reference": reference,
            "resultcode": code,
            "result": result,
            "message": message or {"SUCCESS": "Airtime delivered", "FAIL": "Transaction failed"}.get(result, result),
            "data": data or [],
        }
    )


class FakeSelcom:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        vendor: str | None = None,
        pin: str | None = None,
        callback_secret: str | None = None,
        slow_s: float = 3.0,
    ) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._vendor = vendor
        self._pin = pin
        self._callback_secret = callback_secret
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.payments: dict[str, Payment] = {}
        self.scripts: dict[str, tuple[str, list[str]]] = {}
        self.rejected: list[str] = []

    # Credentials come from Django settings unless given: the demo and `make run` share them.
    def _setting(self, given: str | None, name: str) -> str:
        if given is not None:
            return given
        from django.conf import settings

        return str(getattr(settings, name))

    @property
    def api_key(self) -> str:
        return self._setting(self._api_key, "SELCOM_API_KEY")

    @property
    def api_secret(self) -> str:
        return self._setting(self._api_secret, "SELCOM_API_SECRET")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/v1/utilitypayment/process" and request.method == "POST":
            return self.process(request)
        if path == "/v1/utilitypayment/query" and request.method == "GET":
            return self.query(request)
        if path == "/_fake/script" and request.method == "POST":
            spec = request.get_json(force=True)
            with self.lock:
                self.scripts[str(spec["msisdn"]).removeprefix("+")] = (str(spec["process"]), list(spec["queries"]))
            return _json({"ok": True})
        if path == "/_fake/transactions":
            with self.lock:
                return _json({t: vars(p) for t, p in self.payments.items()})
        if path == "/_fake/reset" and request.method == "POST":
            with self.lock:
                self.payments.clear()
                self.scripts.clear()
                self.rejected.clear()
            return _json({"ok": True})
        if path == "/_fake/callback" and request.method == "POST":
            return self.send_callback(request.get_json(force=True))
        return _json({"resultcode": "404", "result": "FAIL", "message": f"no route {path}"}, 404)

    def _script(self, msisdn: str) -> tuple[str, list[str]]:
        return self.scripts.get(msisdn) or SCRIPTS.get(msisdn[-4:], DEFAULT_SCRIPT)

    # --- signature ---------------------------------------------------------------------------

    def _verify(self, request: Request, values: dict[str, Any], required: tuple[str, ...]) -> str | None:
        """None when the request is signed as documented, else why not."""
        expected_auth = "SELCOM " + base64.b64encode(self.api_key.encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected_auth):
            return "bad Authorization"
        if request.headers.get("Digest-Method") != "HS256":
            return "Digest-Method must be HS256"
        timestamp = request.headers.get("Timestamp", "")
        try:
            datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z")  # takes +03:00 and +0300
        except ValueError:
            return "bad Timestamp"
        signed = [name.strip() for name in request.headers.get("Signed-Fields", "").split(",") if name.strip()]
        if not signed or any(name not in values for name in signed) or not set(required) <= set(signed):
            return "Signed-Fields must name every field sent"
        message = "&".join([f"timestamp={timestamp}", *(f"{name}={values[name]}" for name in signed)])
        digest = base64.b64encode(hmac.new(self.api_secret.encode(), message.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(request.headers.get("Digest", "").encode(), digest):
            return "Digest does not match"
        return None

    def _refuse(self, why: str) -> Response:
        with self.lock:
            self.rejected.append(why)
        return _json({"transid": "", "reference": "", "resultcode": "401", "result": "FAIL", "message": why}, 401)

    # --- API ---------------------------------------------------------------------------------

    def process(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data())
        except ValueError:
            return _json({"resultcode": "400", "result": "FAIL", "message": "body is not JSON"}, 400)
        if not isinstance(body, dict) or any(name not in body for name in PAY_FIELDS):
            return _json({"resultcode": "400", "result": "FAIL", "message": "missing fields"}, 400)
        why = self._verify(request, body, PAY_FIELDS)
        if why:
            return self._refuse(why)
        transid, msisdn = str(body["transid"]), str(body["msisdn"])
        if body["vendor"] != self._setting(self._vendor, "SELCOM_VENDOR") or body["pin"] != self._setting(
            self._pin, "SELCOM_PIN"
        ):
            return _envelope(transid, "", "403", "Invalid vendor or PIN")
        with self.lock:
            process_step, _ = self._script(msisdn)
            existing = self.payments.get(transid)
            if existing is not None:
                existing.process_calls += 1
                return _envelope(transid, existing.reference, "409", "Duplicate transid")
            if process_step == "DOWN":
                return Response("<html>503 Service Unavailable</html>", status=503, mimetype="text/html")
            payment = Payment(
                transid=transid,
                msisdn=msisdn,
                amount=int(body["amount"]),
                utilitycode=str(body["utilitycode"]),
                reference=f"SEL{uuid.uuid4().hex[:10].upper()}",
            )
            self.payments[transid] = payment
            code = "000" if process_step == "SLOW" else process_step
            payment.last_code = code
        if process_step == "SLOW":
            time.sleep(self.slow_s)
        return _envelope(transid, payment.reference, code)

    def query(self, request: Request) -> Response:
        values = dict(request.args.items())
        why = self._verify(request, values, ("transid",))
        if why:
            return self._refuse(why)
        transid = values.get("transid", "")
        with self.lock:
            payment = self.payments.get(transid)
            if payment is None:
                return _envelope(transid, "", "404", "Transaction not found")
            _, queries = self._script(payment.msisdn)  # read now: a test may re-script a payment in flight
            step = queries[min(payment.query_calls, len(queries) - 1)]
            payment.query_calls += 1
            if step == "DOWN":
                return Response("<html>503 Service Unavailable</html>", status=503, mimetype="text/html")
            payment.last_code = step
        data = [{"transid": transid, "reference": payment.reference, "amount": payment.amount}]
        return _envelope(transid, payment.reference, step, data=data)

    # --- callback (the original design's) ---------------------------------------------------

    def send_callback(self, spec: dict[str, Any]) -> Response:
        from django.conf import settings

        transid = str(spec["transid"])
        with self.lock:
            payment = self.payments.get(transid)
        code = payment.last_code if payment else "404"
        body = json.dumps(
            {
                "order_id": transid,
                "status": spec.get("status") or RESULTS.get(code, "FAIL"),
                "reference_id": payment.reference if payment else "",
                "result_code": "0000" if code == "000" else code,
                "result_description": {
                    "000": "Topup successful",
                    "111": "Topup in progress",
                    "927": "Topup in progress",
                }.get(code, "Topup not successful"),
            }
        ).encode()
        secret = self._setting(self._callback_secret, "SELCOM_CALLBACK_SECRET")
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        url = spec.get("url") or f"{settings.PUBLIC_BASE_URL}/api/topup/webhook"
        answer = httpx.post(
            url, content=body, headers={"Content-Type": "application/json", "X-Selcom-Signature": signature}, timeout=10
        )
        return _json({"sent": json.loads(body), "status": answer.status_code, "answer": answer.text})


def make_app(**kwargs: Any) -> FakeSelcom:
    return FakeSelcom(**kwargs)
