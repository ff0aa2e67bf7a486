"""Stripe webhooks: verified with the `Stripe-Signature` scheme, kept once per event id, applied in
the same transaction as the row that de-duplicates them (a failure rolls both back, and Stripe
delivers again).

- `payout.paid`: the connected account's bank payout arrived; a payout we had not seen paid yet
  (its transfer's answer was lost) is marked paid.
- `payout.failed` / `payout.canceled`: a paid payout came back: the money returns to the user,
  the payee is flagged, and the transfer is reversed at Stripe (after commit) so the platform
  gets the money back from the connected account.
- `transfer.reversed`: the transfer was pulled back in full: the money returns to the user
  (or the reversal we asked for is confirmed). A partial reversal is left to an operator.

Payout events are matched by `metadata.payout_id` (the transfer's metadata, which the platform
copies onto the payouts of its connected accounts), then by the Stripe payout id.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
import structlog
from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import DependencyDown, ValidationFailed
from payments.models import Payout, StripeEvent
from payments.payouts import alerts, services

log = structlog.get_logger(__name__)

S = Payout.Status
HANDLED = frozenset({"payout.paid", "payout.failed", "payout.canceled", "transfer.reversed"})


def _verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise DependencyDown("Stripe webhooks are not configured.", code="webhooks_not_configured")
    try:
        stripe.Webhook.construct_event(
            payload.decode("utf-8"), signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_S
        )
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The webhook body is not a Stripe event.", code="invalid_payload") from None
    except stripe.SignatureVerificationError:
        raise ValidationFailed("The Stripe-Signature header does not verify.", code="invalid_signature") from None
    if not isinstance(event, dict) or not str(event.get("id", "")).startswith("evt_") or "type" not in event:
        raise ValidationFailed("The webhook body is not a Stripe event.", code="invalid_payload")
    return event


def _match(obj: dict[str, Any], *, by_transfer: bool) -> Payout | None:
    metadata = obj.get("metadata") or {}
    raw = metadata.get("payout_id")
    if raw is not None and str(raw).isdigit():
        found = Payout.objects.filter(pk=int(raw)).first()
        if found is not None:
            return found
    object_id = str(obj.get("id", ""))
    if by_transfer:
        return Payout.objects.filter(stripe_transfer_id=object_id).first() if object_id else None
    return Payout.objects.filter(stripe_payout_id=object_id).first() if object_id else None


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> tuple[str, bool]:
    """Verify and apply one event; returns (outcome, duplicate)."""
    event = _verify(payload, signature)
    event_type = str(event["type"])
    obj = (event.get("data") or {}).get("object") or {}
    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                row = StripeEvent.objects.create(
                    event_id=event["id"], type=event_type, account=str(event.get("account") or ""), payload=event
                )
        except IntegrityError:
            return "duplicate", True
        outcome, payout = _apply(event_type, obj)
        row.outcome = outcome
        row.payout = payout
        row.save(update_fields=["outcome", "payout"])
    log.info("payouts.webhook", event_id=event["id"], type=event_type, outcome=outcome)
    return outcome, False


def _apply(event_type: str, obj: dict[str, Any]) -> tuple[str, Payout | None]:
    if event_type not in HANDLED:
        return "ignored", None
    payout = _match(obj, by_transfer=event_type.startswith("transfer."))
    if payout is None:
        return "unmatched", None
    payout = Payout.objects.select_for_update().get(pk=payout.pk)
    if event_type == "payout.paid":
        return _payout_paid(payout, obj), payout
    if event_type in ("payout.failed", "payout.canceled"):
        return _payout_failed(payout, obj, event_type), payout
    return _transfer_reversed(payout, obj), payout


def _note_payout(payout: Payout, obj: dict[str, Any]) -> None:
    Payout.objects.filter(pk=payout.pk).update(
        stripe_payout_id=str(obj.get("id", ""))[:64], stripe_payout_status=str(obj.get("status", ""))[:16]
    )


def _payout_paid(payout: Payout, obj: dict[str, Any]) -> str:
    if payout.status == S.FAILED:
        return "already_failed"  # a later payout.failed came first; do not go back
    _note_payout(payout, obj)
    if payout.status in (S.QUEUED, S.PROCESSING, S.REVIEW):
        services.mark_paid_in_tx(payout_id=payout.pk, transfer_id="", old=[payout.status])
        return "marked_paid"
    return "confirmed"


def _payout_failed(payout: Payout, obj: dict[str, Any], event_type: str) -> str:
    code = str(obj.get("failure_code") or ("canceled" if event_type == "payout.canceled" else "payout_failed"))
    message = str(obj.get("failure_message") or f"Stripe reported {event_type}")
    _note_payout(payout, obj)
    if payout.status in (S.QUEUED, S.PROCESSING, S.REVIEW):
        # We never heard the transfer's answer, but Stripe paid it out: it was paid, then failed.
        services.mark_paid_in_tx(payout_id=payout.pk, transfer_id="", old=[payout.status])
    elif payout.status != S.PAID:
        return "already_closed"
    services.return_paid_in_tx(
        payout_id=payout.pk,
        code=code,
        message=message,
        flag_payee=True,
        reverse_transfer=bool(Payout.objects.values_list("stripe_transfer_id", flat=True).get(pk=payout.pk)),
    )
    alerts.alert_raise(
        type="system_error",
        severity="warning",
        message=f"Paid payout {payout.pk} came back from the bank ({code}); the money was returned.",
        details={"payout": payout.pk, "code": code},
        dedupe_key=f"payout_returned:{payout.pk}",
    )
    return "returned"


def _transfer_reversed(payout: Payout, obj: dict[str, Any]) -> str:
    reversed_amount = int(obj.get("amount_reversed") or 0)
    if payout.status == S.FAILED and payout.transfer_reversal_pending:
        reversals = (obj.get("reversals") or {}).get("data") or []
        reversal_id = str(reversals[-1].get("id", "")) if reversals else ""
        Payout.objects.filter(pk=payout.pk).update(transfer_reversal_pending=False, stripe_reversal_id=reversal_id)
        return "reversal_confirmed"
    if payout.status != S.PAID:
        return "already_closed"
    if reversed_amount < payout.amount:
        alerts.alert_raise(
            type="system_error",
            severity="warning",
            message=f"Transfer of payout {payout.pk} was partly reversed ({reversed_amount} of {payout.amount}).",
            details={"payout": payout.pk, "reversed": reversed_amount},
            dedupe_key=f"partial_reversal:{payout.pk}",
        )
        return "partial_reversal"
    services.return_paid_in_tx(
        payout_id=payout.pk,
        code="transfer_reversed",
        message="The transfer was reversed at Stripe.",
        flag_payee=False,
        reverse_transfer=False,
    )
    return "returned"
