"""The original design's signed status callback: recorded, and a hint to query at once."""

from __future__ import annotations

import json
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from core.metrics import TOPUP_FLAGGED
from payments.models import TopUp, TopUpEvent
from payments.topup.inbound import SHA256, refusals_counted, signature_verify

log = structlog.get_logger(__name__)
Status = TopUp.Status


def _callback_parse(*, body: bytes, signature: str | None) -> tuple[TopUp, dict[str, Any]]:
    signature_verify(
        secret=settings.SELCOM_CALLBACK_SECRET,
        body=body,
        signature=signature,
        digestmod=SHA256,
        header="X-Selcom-Signature",
    )
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationFailed("The callback body is not JSON.", code="malformed_body") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("order_id"), str) or not payload["order_id"]:
        raise ValidationFailed("The callback needs an order_id.", code="malformed_body", details={"field": "order_id"})
    if payload.get("status") is not None and not isinstance(payload["status"], str):
        raise ValidationFailed("status must be a string.", code="malformed_body", details={"field": "status"})
    topup = TopUp.objects.filter(transid=payload["order_id"]).first()
    if topup is None:
        raise NotFound("No top-up has this order_id.", code="unknown_topup")
    return topup, payload


def topup_callback_receive(*, body: bytes, signature: str | None) -> TopUp:
    """A signed status callback: recorded, and a hint to query now (the query is the truth).

    Duplicates are harmless: each only makes the next query due at once.
    """
    with refusals_counted("selcom"):
        topup, payload = _callback_parse(body=body, signature=signature)
    status = payload.get("status")
    now = timezone.now()
    with transaction.atomic(durable=True):
        TopUpEvent.objects.create(
            topup_id=topup.pk,
            kind=TopUpEvent.Kind.CALLBACK,
            outcome=str(status or "")[:32].lower(),
            result_code=str(payload.get("result_code") or "")[:32],
            message=str(payload.get("result_description") or "")[:255],
            payload=payload,
        )
        hinted = TopUp.objects.filter(pk=topup.pk, status=Status.PROCESSING).update(
            next_attempt_at=Least(F("next_attempt_at"), now), updated_at=now
        )
        if hinted:
            from payments.topup.tasks import topup_query_task

            # robust: a broker hiccup must not fail the webhook; the sweep queries it anyway.
            transaction.on_commit(lambda: topup_query_task.delay(topup.pk), robust=True)
        said = str(status or "").upper()
        if not topup.is_open and said in ("SUCCESS", "FAIL", "FAILED"):
            if (said == "SUCCESS") != (topup.status == Status.SUCCEEDED):
                reason = f"callback says {said} of a top-up that {topup.status}"
                TopUp.objects.filter(pk=topup.pk).update(flagged_at=now, flag_reason=reason, updated_at=now)
                TOPUP_FLAGGED.labels("contradiction").inc()
                log.error("topup.contradiction", topup=topup.pk, transid=topup.transid, reason=reason)
    return TopUp.objects.get(pk=topup.pk)
