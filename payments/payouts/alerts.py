"""Payout alerts: raised once per condition, acknowledged and resolved by operators, and sent by
e-mail and by signed webhook (after commit, through core.http, never inside a transaction).

Rules (RULES.md, Payouts): failure rate above the threshold (warning; critical at twice it),
pending payouts above the threshold (warning; critical at twice it), average processing delay
above the threshold (warning), a run's total above the amount threshold (info), and system
errors (critical: breaker open, Stripe refusing our key, payouts needing review).
A condition that persists does not raise a second alert: the unresolved one counts up (and is
sent again only when its severity rises).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from core.http import HttpClient, UpstreamUnavailable
from payments.models import PayoutAlert, PayoutAlertConfig
from payments.payouts.stripe_adapter import ensure_no_transaction

log = structlog.get_logger(__name__)

A = PayoutAlert
SIGNATURE_HEADER = "X-Tote-Signature"


def alert_config() -> PayoutAlertConfig:
    config, _ = PayoutAlertConfig.objects.get_or_create(
        pk=1,
        defaults={
            "notification_emails": list(settings.PAYOUT_ALERT_EMAILS),
            "webhook_urls": list(settings.PAYOUT_ALERT_WEBHOOK_URLS),
        },
    )
    return config


CONFIG_FIELDS = {
    "enabled",
    "failure_rate_threshold",
    "pending_payout_threshold",
    "processing_delay_threshold_hours",
    "total_amount_threshold",
    "notification_emails",
    "webhook_urls",
}


def alert_config_update(*, fields: dict[str, Any]) -> PayoutAlertConfig:
    unknown = set(fields) - CONFIG_FIELDS
    if unknown:
        raise ValidationFailed("Unknown alert settings.", details={"fields": sorted(unknown)})
    errors: dict[str, str] = {}
    for email in fields.get("notification_emails", []):
        try:
            validate_email(email)
        except DjangoValidationError:
            errors["notification_emails"] = f"{email!r} is not an e-mail address"
    for url in fields.get("webhook_urls", []):
        if urlparse(str(url)).scheme not in ("http", "https"):
            errors["webhook_urls"] = f"{url!r} is not an http(s) URL"
    for name in ("failure_rate_threshold", "total_amount_threshold"):
        if name in fields and Decimal(str(fields[name])) < 0:
            errors[name] = "zero or more"
    if errors:
        raise ValidationFailed("The alert settings are not valid.", details={"fields": errors})
    with transaction.atomic():
        config = alert_config()
        for name, value in fields.items():
            setattr(config, name, value)
        config.updated_at = timezone.now()
        config.save()
    return config


def alert_raise(
    *,
    type: str,
    severity: str,
    message: str,
    details: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    run_id: int | None = None,
) -> PayoutAlert | None:
    """Open an alert, or count up the unresolved one with the same key. Notifies after commit."""
    config = alert_config()
    if not config.enabled:
        return None
    key = dedupe_key or type
    now = timezone.now()
    payload = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder))
    notify = False
    with transaction.atomic():
        try:
            with transaction.atomic():
                alert = PayoutAlert.objects.create(
                    type=type,
                    severity=severity,
                    dedupe_key=key,
                    message=message[:500],
                    details=payload,
                    run_id=run_id,
                    created_at=now,
                    last_seen_at=now,
                )
            notify = True
        except IntegrityError:
            alert = PayoutAlert.objects.select_for_update().exclude(status=A.Status.RESOLVED).get(dedupe_key=key)
            alert.occurrences += 1
            alert.last_seen_at = now
            alert.details = payload
            if A.SEVERITY_RANK[A.Severity(severity)] > A.SEVERITY_RANK[A.Severity(alert.severity)]:
                alert.severity, alert.message, notify = severity, message[:500], True
            alert.save(update_fields=["occurrences", "last_seen_at", "details", "severity", "message"])
        if notify:
            from payments.payouts.tasks import payout_alert_notify

            alert_id = alert.pk
            transaction.on_commit(lambda: payout_alert_notify.delay(alert_id))
    log.warning("payouts.alert", type=type, severity=severity, message=message, key=key, new=notify)
    return alert


def _alert_move(*, alert_id: int, new: str, user_id: int) -> PayoutAlert:
    olds = [s for s, allowed in A.TRANSITIONS.items() if new in allowed]
    stamp = {"acknowledged": ("acknowledged_by_id", "acknowledged_at"), "resolved": ("resolved_by_id", "resolved_at")}
    by, at = stamp[new]
    with transaction.atomic(durable=True):
        moved = PayoutAlert.objects.filter(pk=alert_id, status__in=olds).update(
            status=new, **{by: user_id, at: timezone.now()}
        )
    if not moved:
        current = PayoutAlert.objects.filter(pk=alert_id).values_list("status", flat=True).first()
        if current is None:
            raise NotFound("No such alert.")
        raise Conflict(f"The alert is {current}.", code="invalid_state", details={"status": current})
    return PayoutAlert.objects.get(pk=alert_id)


def alert_acknowledge(*, alert_id: int, user_id: int) -> PayoutAlert:
    return _alert_move(alert_id=alert_id, new=A.Status.ACKNOWLEDGED, user_id=user_id)


def alert_resolve(*, alert_id: int, user_id: int) -> PayoutAlert:
    return _alert_move(alert_id=alert_id, new=A.Status.RESOLVED, user_id=user_id)


# --- Sending ----------------------------------------------------------------------------------


def alert_payload(alert: PayoutAlert) -> dict[str, Any]:
    return {
        "type": "payout.alert",
        "alert": {
            "id": alert.pk,
            "type": alert.type,
            "severity": alert.severity,
            "status": alert.status,
            "message": alert.message,
            "details": alert.details,
            "occurrences": alert.occurrences,
            "createdAt": alert.created_at.isoformat(),
        },
    }


def sign(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe uses."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def alert_notify(*, alert_id: int) -> list[str]:
    """Send an alert to the configured e-mails and webhook URLs; returns the failures."""
    ensure_no_transaction()
    alert = PayoutAlert.objects.filter(pk=alert_id).first()
    if alert is None:
        return []
    config = alert_config()
    errors: list[str] = []
    if config.notification_emails:
        subject = f"[Tote payouts] {alert.severity.upper()}: {alert.get_type_display()}"
        body = f"{alert.message}\n\nDetails: {json.dumps(alert.details, indent=2)}\nAlert #{alert.pk}"
        try:
            send_mail(subject, body, settings.PAYOUT_ALERT_FROM_EMAIL, list(config.notification_emails))
        except OSError as exc:
            errors.append(f"email: {exc}")
    body_bytes = json.dumps(alert_payload(alert), separators=(",", ":")).encode()
    for url in config.webhook_urls:
        headers = {"Content-Type": "application/json"}
        if settings.PAYOUT_ALERT_WEBHOOK_SECRET:
            headers[SIGNATURE_HEADER] = sign(body_bytes, secret=settings.PAYOUT_ALERT_WEBHOOK_SECRET)
        parts = urlparse(url)
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        client = HttpClient(
            service="payout-alert-webhook",
            base_url=f"{parts.scheme}://{parts.netloc}",
            timeout_s=5,
            retries=2,
            backoff_s=0.2,
        )
        try:
            response = client.request("POST", target, content=body_bytes, headers=headers)
            if response.status_code >= 300:
                errors.append(f"{url}: HTTP {response.status_code}")
        except (UpstreamUnavailable, ApplicationError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            client.close()
    PayoutAlert.objects.filter(pk=alert_id).update(notified_at=timezone.now(), notify_errors=errors)
    return errors
