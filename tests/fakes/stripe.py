"""A local Stripe that speaks the documented wire format (PROVIDERS.md, Stripe), for tests and the demo.

What it does:
- `POST /v1/transfers` (form-encoded, `metadata[k]=v`), `GET /v1/transfers?transfer_group=`,
  `GET /v1/transfers/<id>`, `POST /v1/transfers/<id>/reversals`, `POST /v1/payouts` (with
  `Stripe-Account`), `GET /v1/payouts/<id>`; `Authorization: Bearer sk_...` required.
- Idempotency: the first answer to an `Idempotency-Key` that reached the endpoint is kept and
  replayed (`Idempotent-Replayed: true`) for the same parameters; other parameters answer 400
  `idempotency_error`. Rate limits and plain 5xx are not kept (they never reached the endpoint).
- Errors `{"error": {"type", "code", "message", "param"}}`, 429, 5xx and `Stripe-Should-Retry`.
- Scripted answers per destination account (`script("acct_x", "rate_limit", "ok")`), consumed one
  per request: `ok`, `rate_limit`, `lock_timeout`, `server_error` (500), `unavailable` (503),
  `server_error_saved` (500 kept for replay, `Stripe-Should-Retry: false`), `decline:<code>`
  (400; `decline:<code>:noretry` / `:retry` add the header), `slow:<ms>` (the transfer is made
  and kept, the answer comes after ms: a client timeout), `unauthorized` (401).
- Latency for every request (`latency_ms`), the most requests seen in flight at once.
- Webhooks: `build_event(type, obj)` gives the body and a valid `Stripe-Signature`
  (`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`); `send_event(...)` POSTs it to the
  configured URL. With `auto_webhooks`, a transfer is followed by the connected account's
  `payout.paid` (or `payout.failed` for accounts in `BANK_FAILS`), carrying the transfer's
  metadata (our payout id), as a platform paying its accounts out manually would send.
- Control over HTTP for the demo and the benchmark: `POST /_fake/script`, `/_fake/latency`,
  `/_fake/event`, `/_fake/reset`, `GET /_fake/state`.

Run alone: `python -m tests.fakes.stripe --port 9004 --latency-ms 50`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

DEFAULT_WEBHOOK_SECRET = "whsec_tote_local_fake"

# Demo accounts with a fixed behaviour (used by payments/payouts/demo.py).
DEMO_SCRIPTS: dict[str, list[str]] = {
    "acct_1DemoClosed": ["decline:account_closed"] * 20,
    "acct_1DemoFlaky": ["rate_limit", "ok"] * 10,
}
BANK_FAILS = {"acct_1DemoBankFails": "account_closed"}
RETRYABLE_CODES = frozenset({"rate_limit", "lock_timeout", "could_not_process"})


def _nest(form: Any) -> dict[str, Any]:
    """Stripe's form encoding: `metadata[payout_id]=7` -> {"metadata": {"payout_id": "7"}}."""
    out: dict[str, Any] = {}
    for key, value in form.items(multi=True):
        if "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[key] = value
    return out


def _error(status: int, type_: str, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return {"status": status, "body": {"error": body}, "headers": {}}


class FakeStripe:
    def __init__(
        self,
        *,
        latency_ms: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        auto_webhooks: bool = False,
        auto_webhook_delay_s: float = 1.0,
        scripts: dict[str, list[str]] | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or DEFAULT_WEBHOOK_SECRET
        self.auto_webhooks = auto_webhooks
        self.auto_webhook_delay_s = auto_webhook_delay_s
        self._initial_scripts = scripts or {}
        self._lock = threading.Lock()
        self.reset()

    # --- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.transfers: dict[str, dict[str, Any]] = {}
            self.payouts: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
            self.scripts: dict[str, deque[str]] = defaultdict(deque)
            for account, steps in self._initial_scripts.items():
                self.scripts[account].extend(steps)
            self.requests: list[dict[str, Any]] = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.sent_events: list[dict[str, Any]] = []

    def script(self, destination: str, *steps: str) -> None:
        with self._lock:
            self.scripts[destination].extend(steps)

    def transfer_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == "/v1/transfers"]

    # --- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = self._dispatch(request)
        finally:
            with self._lock:
                self.in_flight -= 1
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_fake/"):
            return self._control(request)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_") and not auth.startswith("Bearer rk_"):
            return self._respond(_error(401, "invalid_request_error", "Invalid API Key provided."))
        params = _nest(request.form) if request.method == "POST" else dict(request.args)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append(
                {"method": request.method, "path": path, "params": params, "idempotency_key": key, "at": time.time()}
            )
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["v1", "transfers"]:
            if request.method == "POST" and len(parts) == 2:
                return self._idempotent(key, params, path, lambda: self._transfer_create(params))
            if request.method == "GET" and len(parts) == 2:
                return self._respond(self._transfer_list(params))
            if request.method == "GET" and len(parts) == 3:
                found = self.transfers.get(parts[2])
                return self._respond(
                    {"status": 200, "body": found, "headers": {}}
                    if found
                    else _error(404, "invalid_request_error", "No such transfer", "resource_missing", "id")
                )
            if request.method == "POST" and len(parts) == 4 and parts[3] == "reversals":
                return self._idempotent(key, params, path, lambda: self._reversal_create(parts[2], params))
        if parts[:2] == ["v1", "payouts"]:
            account = request.headers.get("Stripe-Account", "")
            if request.method == "POST" and len(parts) == 2:
                return self._idempotent(
                    f"{account}:{key}" if key else None, params, path, lambda: self._payout_create(account, params)
                )
            if request.method == "GET" and len(parts) == 3 and parts[2] in self.payouts:
                return self._respond({"status": 200, "body": self.payouts[parts[2]], "headers": {}})
        return self._respond(
            _error(404, "invalid_request_error", f"Unrecognized request URL ({request.method} {path})")
        )

    def _respond(self, answer: dict[str, Any], *, replayed: bool = False) -> Response:
        headers = {"Request-Id": f"req_{secrets.token_hex(7)}", **answer.get("headers", {})}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        delay_ms = answer.get("delay_ms", 0)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return Response(
            json.dumps(answer["body"]), status=answer["status"], headers=headers, mimetype="application/json"
        )

    def _idempotent(self, key: str | None, params: dict[str, Any], path: str, create: Any) -> Response:
        digest = hashlib.sha256(json.dumps([path, params], sort_keys=True).encode()).hexdigest()
        if key:
            with self._lock:
                saved = self.idempotency.get(key)
            if saved is not None:
                if saved[0] != digest:
                    return self._respond(
                        _error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were "
                            "first used with.",
                        )
                    )
                return self._respond({**saved[1], "delay_ms": 0}, replayed=True)
        answer = create()
        if answer.pop("keep", True) and key:
            with self._lock:
                self.idempotency.setdefault(key, (digest, {k: v for k, v in answer.items() if k != "delay_ms"}))
        return self._respond(answer)

    # --- resources --------------------------------------------------------------------------
    def _next_step(self, destination: str) -> str:
        with self._lock:
            queue = self.scripts.get(destination)
            return queue.popleft() if queue else "ok"

    def _transfer_create(self, params: dict[str, Any]) -> dict[str, Any]:
        destination = str(params.get("destination", ""))
        step = self._next_step(destination)
        if step == "rate_limit":
            answer = _error(429, "invalid_request_error", "Too many requests hit the API too quickly.", "rate_limit")
            return {**answer, "keep": False}
        if step == "lock_timeout":
            answer = _error(429, "invalid_request_error", "This object cannot be accessed right now.", "lock_timeout")
            return {**answer, "keep": False}
        if step == "server_error":
            return {**_error(500, "api_error", "An unknown error occurred."), "keep": False}
        if step == "unavailable":
            return {**_error(503, "api_error", "Service unavailable."), "keep": False}
        if step == "server_error_saved":
            answer = _error(500, "api_error", "An unknown error occurred.")
            answer["headers"] = {"Stripe-Should-Retry": "false"}
            return answer
        if step == "unauthorized":
            return {**_error(401, "invalid_request_error", "Invalid API Key provided."), "keep": False}
        if step.startswith("decline:"):
            _, code, *flag = step.split(":")
            answer = _error(400, "invalid_request_error", f"The transfer was declined: {code}.", code, "destination")
            if flag:
                answer["headers"] = {"Stripe-Should-Retry": "true" if flag[0] == "retry" else "false"}
            # A failure Stripe means to be retried is not kept for replay (a retry would be useless).
            answer["keep"] = code not in RETRYABLE_CODES and flag[:1] != ["retry"]
            return answer
        if not destination.startswith("acct_"):
            return _error(400, "invalid_request_error", "No such destination.", "no_account", "destination")
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return _error(400, "invalid_request_error", "Invalid integer.", "parameter_invalid_integer", "amount")
        transfer = {
            "id": f"tr_{secrets.token_hex(12)}",
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": params.get("currency", "usd"),
            "destination": destination,
            "transfer_group": params.get("transfer_group"),
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
            "livemode": False,
            "reversed": False,
            "reversals": {"object": "list", "data": [], "has_more": False, "url": ""},
            "balance_transaction": f"txn_{secrets.token_hex(12)}",
        }
        with self._lock:
            self.transfers[transfer["id"]] = transfer
        if self.auto_webhooks and self.webhook_url:
            threading.Timer(self.auto_webhook_delay_s, self._auto_payout, args=(transfer,)).start()
        answer: dict[str, Any] = {"status": 200, "body": transfer, "headers": {}}
        if step.startswith("slow:"):
            answer["delay_ms"] = int(step.split(":")[1])
        return answer

    def _transfer_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("transfer_group")
        with self._lock:
            found = [t for t in self.transfers.values() if group is None or t["transfer_group"] == group]
        found.sort(key=lambda t: t["created"], reverse=True)
        limit = int(params.get("limit", 10))
        body = {"object": "list", "url": "/v1/transfers", "has_more": len(found) > limit, "data": found[:limit]}
        return {"status": 200, "body": body, "headers": {}}

    def _reversal_create(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            transfer = self.transfers.get(transfer_id)
            if transfer is None:
                return _error(404, "invalid_request_error", "No such transfer", "resource_missing", "id")
            amount = int(params.get("amount", transfer["amount"] - transfer["amount_reversed"]))
            if amount > transfer["amount"] - transfer["amount_reversed"]:
                return _error(
                    400, "invalid_request_error", "The transfer has already been reversed.", "transfer_reversed"
                )
            reversal = {
                "id": f"trr_{secrets.token_hex(12)}",
                "object": "transfer_reversal",
                "amount": amount,
                "currency": transfer["currency"],
                "transfer": transfer_id,
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
            }
            transfer["amount_reversed"] += amount
            transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
            transfer["reversals"]["data"].append(reversal)
        return {"status": 200, "body": reversal, "headers": {}}

    def _payout_create(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        payout = {
            "id": f"po_{secrets.token_hex(12)}",
            "object": "payout",
            "amount": int(params.get("amount", 0)),
            "currency": params.get("currency", "usd"),
            "status": "pending",
            "failure_code": None,
            "failure_message": None,
            "metadata": params.get("metadata", {}),
            "arrival_date": int(time.time()) + 86400,
            "created": int(time.time()),
            "livemode": False,
        }
        with self._lock:
            self.payouts[payout["id"]] = {**payout, "account": account}
        return {"status": 200, "body": payout, "headers": {}}

    # --- webhooks ---------------------------------------------------------------------------
    def payout_object(
        self, transfer: dict[str, Any], *, status: str, failure_code: str | None = None
    ) -> dict[str, Any]:
        """The connected account's payout of a transfer, with the transfer's metadata."""
        return {
            "id": f"po_{hashlib.sha256(transfer['id'].encode()).hexdigest()[:24]}",
            "object": "payout",
            "amount": transfer["amount"],
            "currency": transfer["currency"],
            "status": status,
            "failure_code": failure_code,
            "failure_message": f"The bank returned the payout: {failure_code}." if failure_code else None,
            "metadata": dict(transfer.get("metadata") or {}),
            "arrival_date": int(time.time()),
            "created": int(time.time()),
            "livemode": False,
        }

    def build_event(
        self, type_: str, obj: dict[str, Any], *, account: str | None = None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str], dict[str, Any]]:
        event: dict[str, Any] = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": type_,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
        if account:
            event["account"] = account
        body = json.dumps(event).encode()
        ts = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(self.webhook_secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "Stripe-Signature": f"t={ts},v1={signature}"}, event

    def send_event(self, type_: str, obj: dict[str, Any], *, account: str | None = None) -> int:
        if not self.webhook_url:
            raise RuntimeError("no webhook URL configured")
        body, headers, event = self.build_event(type_, obj, account=account)
        response = httpx.post(self.webhook_url, content=body, headers=headers, timeout=10)
        with self._lock:
            self.sent_events.append({"event": event, "status": response.status_code})
        return response.status_code

    def _auto_payout(self, transfer: dict[str, Any]) -> None:
        failure = BANK_FAILS.get(transfer["destination"])
        try:
            paid = self.payout_object(transfer, status="paid")
            self.send_event("payout.paid", paid, account=transfer["destination"])
            if failure:
                failed = self.payout_object(transfer, status="failed", failure_code=failure)
                self.send_event("payout.failed", failed, account=transfer["destination"])
        except httpx.HTTPError:
            pass  # the platform is down: Stripe would retry; the demo does not care

    # --- control ----------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_fake/")
        body = request.get_json(silent=True) or {}
        if action == "script":
            self.script(str(body["destination"]), *body.get("steps", []))
        elif action == "latency":
            self.latency_ms = int(body.get("ms", 0))
        elif action == "reset":
            self.reset()
        elif action == "event":
            transfer = self.transfers.get(str(body.get("transfer", "")))
            obj = body.get("object") or (
                self.payout_object(transfer, status=body.get("status", "paid"), failure_code=body.get("failure_code"))
                if transfer
                else {}
            )
            status = self.send_event(str(body["type"]), obj, account=body.get("account"))
            return Response(json.dumps({"delivered": status}), mimetype="application/json")
        elif action != "state":
            return Response(json.dumps({"error": "unknown control"}), status=404, mimetype="application/json")
        state = {
            "transfers": len(self.transfers),
            "requests": len(self.requests),
            "max_in_flight": self.max_in_flight,
            "latency_ms": self.latency_ms,
        }
        return Response(json.dumps(state), mimetype="application/json")


def make_app(**overrides: Any) -> FakeStripe:
    """The demo's fake: webhooks to the running platform, signed with its secret."""
    options: dict[str, Any] = {"scripts": DEMO_SCRIPTS}
    try:
        from django.conf import settings

        port = os.environ.get("WEB_PORT")
        base = f"http://{os.environ.get('WEB_HOST', '127.0.0.1')}:{port}" if port else settings.PUBLIC_BASE_URL
        options |= {
            "webhook_url": f"{base}/api/payments/stripe/webhook",
            "webhook_secret": settings.STRIPE_WEBHOOK_SECRET or DEFAULT_WEBHOOK_SECRET,
            "auto_webhooks": True,
        }
    except Exception:  # noqa: BLE001, S110 - outside Django the fake runs without webhooks
        pass
    options |= overrides
    return FakeStripe(**options)


@contextmanager
def serving(app: FakeStripe, port: int = 0) -> Iterator[str]:
    """Serve the fake on 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-stripe", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9004)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    app = FakeStripe(latency_ms=args.latency_ms)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"fake stripe on http://127.0.0.1:{server.server_port}", flush=True)  # noqa: T201
    server.serve_forever()


if __name__ == "__main__":
    main()
