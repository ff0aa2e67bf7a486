"""Payouts in the admin: every table, the manual steps as actions, and the operator page
(`/admin/payments/payoutrun/monitoring/`): health, recent runs as a chart, open alerts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.errors import ApplicationError
from ledger.currencies import format_amount
from payments.models import Payee, Payout, PayoutAlert, PayoutAlertConfig, PayoutRun, PayoutSchedule, StripeEvent
from payments.payouts import alerts, monitoring, schedules, selectors, services


def _apply_each(request: HttpRequest, items: QuerySet[Any], fn: Any, verb: str) -> None:
    done, failed = 0, []
    for item in items:
        try:
            fn(item)
            done += 1
        except ApplicationError as exc:
            failed.append(f"#{item.pk}: {exc.message}")
    if done:
        messages.success(request, f"{verb}: {done}.")
    for line in failed:
        messages.error(request, line)


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PayeeForm(forms.ModelForm):
    class Meta:
        model = Payee
        fields = ["stripe_account_id"]

    def clean_stripe_account_id(self) -> str:
        value = str(self.cleaned_data["stripe_account_id"]).strip()
        if not services.ACCOUNT_ID.match(value):
            raise forms.ValidationError("A Stripe connected account id looks like acct_1A2b3C.")
        return value


@admin.register(Payee)
class PayeeAdmin(admin.ModelAdmin):
    """An operator fixes a destination here (the account id), then clears the flag."""

    list_display = ["id", "user", "stripe_account_id", "status", "flag_code", "flagged_at", "updated_at"]
    list_filter = ["status", "flag_code"]
    search_fields = ["user__username", "user__email", "stripe_account_id"]
    list_select_related = ["user"]
    form = PayeeForm
    fields = ["user", "stripe_account_id", "status", "flag_code", "flag_reason", "flagged_at", "updated_at"]
    readonly_fields = ["user", "status", "flag_code", "flag_reason", "flagged_at", "updated_at"]
    actions = ["clear_flag"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Payee, form: Any, change: bool) -> None:
        services.payee_link(user_id=obj.user_id, stripe_account_id=obj.stripe_account_id)

    @admin.action(description="Clear the flag (destination fixed)")
    def clear_flag(self, request: HttpRequest, queryset: QuerySet[Payee]) -> None:
        operator = int(request.user.pk or 0)
        _apply_each(
            request, queryset, lambda p: services.payee_flag_clear(payee_id=p.pk, operator_id=operator), "Cleared"
        )


@admin.register(Payout)
class PayoutAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "shown_amount",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error_code",
        "failure_code",
        "created_at",
        "paid_at",
    ]
    list_filter = ["status", "currency", "failed_after_paid", "transfer_reversal_pending", "last_error_code"]
    search_fields = ["=id", "user__username", "stripe_transfer_id", "stripe_payout_id", "destination"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    actions = ["approve", "reject", "retry_now", "check_stripe", "return_to_wallet"]

    @admin.display(description="amount", ordering="amount")
    def shown_amount(self, obj: Payout) -> str:
        return format_amount(obj.amount, obj.currency)

    @admin.action(description="Approve (you must not be the requester)")
    def approve(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        operator = int(request.user.pk or 0)
        _apply_each(
            request, queryset, lambda p: services.payout_approve(payout_id=p.pk, approver_id=operator), "Approved"
        )

    @admin.action(description="Reject and return the money")
    def reject(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        operator = int(request.user.pk or 0)
        _apply_each(
            request, queryset, lambda p: services.payout_reject(payout_id=p.pk, operator_id=operator), "Rejected"
        )

    @admin.action(description="Retry now (queued payouts)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        count = services.payouts_retry_now(payout_ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"Due now: {count}.")

    @admin.action(description="Review: ask Stripe whether the transfer exists (paid if it does)")
    def check_stripe(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        from payments.payouts.runs import payout_review_check

        for payout in queryset.filter(status=Payout.Status.REVIEW):
            try:
                found = payout_review_check(payout_id=payout.pk)
            except ApplicationError as exc:
                messages.error(request, f"#{payout.pk}: {exc.message}")
                continue
            if found:
                messages.success(request, f"#{payout.pk}: Stripe holds {found}; marked paid.")
            else:
                messages.warning(request, f"#{payout.pk}: Stripe has no transfer; return it to the wallet if right.")

    @admin.action(description="Review: return the money to the wallet")
    def return_to_wallet(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        operator = int(request.user.pk or 0)
        _apply_each(
            request,
            queryset,
            lambda p: services.payout_review_decide(payout_id=p.pk, operator_id=operator, paid=False),
            "Returned",
        )


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = PayoutSchedule
        fields = [
            "name",
            "enabled",
            "frequency",
            "day_of_week",
            "day_of_month",
            "hour",
            "minute",
            "timezone",
            "min_threshold",
            "batch_size",
            "max_retries",
            "notification_emails",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        candidate = PayoutSchedule(
            **{k: v for k, v in cleaned.items() if k in {f.name for f in PayoutSchedule._meta.fields}}
        )
        try:
            schedules.schedule_validate(candidate)
        except ApplicationError as exc:
            for name, problem in exc.details.get("fields", {}).items():
                self.add_error(name if name in self.fields else None, problem)
        return cleaned


@admin.register(PayoutSchedule)
class PayoutScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["name", "enabled", "frequency", "day_of_week", "day_of_month", "hour", "minute", "timezone"]
    list_filter = ["enabled", "frequency"]
    search_fields = ["name"]
    readonly_fields = ["last_slot_at", "periodic_task", "updated_at"]

    def save_model(self, request: HttpRequest, obj: PayoutSchedule, form: Any, change: bool) -> None:
        schedules.payout_schedule_store(schedule=obj)  # writes the beat entry at once

    def delete_model(self, request: HttpRequest, obj: PayoutSchedule) -> None:
        schedules.payout_schedule_delete(schedule_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PayoutSchedule]) -> None:
        for schedule in queryset:
            schedules.payout_schedule_delete(schedule_id=schedule.pk)


@admin.register(PayoutAlert)
class PayoutAlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "severity", "type", "status", "message", "occurrences", "created_at", "last_seen_at"]
    list_filter = ["status", "severity", "type"]
    search_fields = ["message", "dedupe_key"]
    actions = ["acknowledge", "resolve"]

    @admin.action(description="Acknowledge")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[PayoutAlert]) -> None:
        user = int(request.user.pk or 0)
        _apply_each(request, queryset, lambda a: alerts.alert_acknowledge(alert_id=a.pk, user_id=user), "Acknowledged")

    @admin.action(description="Resolve")
    def resolve(self, request: HttpRequest, queryset: QuerySet[PayoutAlert]) -> None:
        user = int(request.user.pk or 0)
        _apply_each(request, queryset, lambda a: alerts.alert_resolve(alert_id=a.pk, user_id=user), "Resolved")


@admin.register(PayoutAlertConfig)
class PayoutAlertConfigAdmin(admin.ModelAdmin):
    list_display = ["__str__", "enabled", "failure_rate_threshold", "pending_payout_threshold", "updated_at"]
    exclude = ["updated_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not PayoutAlertConfig.objects.exists()

    def save_model(self, request: HttpRequest, obj: PayoutAlertConfig, form: Any, change: bool) -> None:
        alerts.alert_config_update(fields={k: v for k, v in form.cleaned_data.items() if k in alerts.CONFIG_FIELDS})


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "account", "payout", "outcome", "received_at"]
    list_filter = ["type", "outcome"]
    search_fields = ["event_id", "account", "=payout__id"]


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "run_id",
        "trigger",
        "status",
        "total_payouts",
        "successful_payouts",
        "failed_payouts",
        "retried_payouts",
        "duration_ms",
        "started_at",
    ]
    list_filter = ["status", "trigger"]
    search_fields = ["run_id", "correlation_id"]
    date_hierarchy = "started_at"

    def get_urls(self) -> list[URLPattern]:
        page = path(
            "monitoring/",
            self.admin_site.admin_view(self.monitoring_view),
            name="payments_payout_monitoring",
        )
        return [page, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"monitoring_url": reverse("admin:payments_payout_monitoring"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def monitoring_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            return self._monitoring_action(request)
        status, metrics = monitoring.payout_health()
        runs = list(selectors.runs_recent(limit=30))[::-1]
        context = {
            **self.admin_site.each_context(request),
            "title": "Payout monitoring",
            "status": status,
            "metrics": metrics,
            "pending_amounts": [format_amount(v, c) for c, v in sorted(metrics.pending_amount.items())],
            "chart": _chart(runs),
            "runs": runs[::-1][:10],
            "alerts": list(selectors.alerts_active()[:50]),
            "next_run": schedules.next_scheduled_time(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "payments/payout_monitoring.html", context)

    def _monitoring_action(self, request: HttpRequest) -> HttpResponse:
        from payments.payouts.runs import RunOptions, payout_run_execute
        from payments.payouts.tasks import payouts_run

        action = request.POST.get("action", "")
        user = int(request.user.pk or 0)
        try:
            if action in ("acknowledge", "resolve"):
                move = alerts.alert_acknowledge if action == "acknowledge" else alerts.alert_resolve
                alert = move(alert_id=int(request.POST.get("alert", "0")), user_id=user)
                messages.success(request, f"Alert #{alert.pk} {alert.status}.")
            elif action == "dry_run":
                report = payout_run_execute(RunOptions(trigger=PayoutRun.Trigger.MANUAL, dry_run=True))
                if report is not None:
                    amounts = ", ".join(format_amount(v, c) for c, v in sorted(report.total_amount.items()))
                    messages.info(request, f"Dry run: {report.total_payouts} payouts due ({amounts or 'nothing'}).")
            elif action == "run_now":
                payouts_run.delay(user)
                messages.success(request, "A payout run was queued.")
            else:
                messages.error(request, "Unknown action.")
        except (ApplicationError, ValueError) as exc:
            messages.error(request, str(getattr(exc, "message", exc)))
        return HttpResponseRedirect(reverse("admin:payments_payout_monitoring"))


def _chart(runs: list[PayoutRun]) -> dict[str, Any]:
    """Bars for the recent runs: paid (green) under failed (red) under retried (amber)."""
    height, bar, gap = 160, 18, 6
    top = max([r.successful_payouts + r.failed_payouts + r.retried_payouts for r in runs] + [1])
    bars = []
    for i, run in enumerate(runs):
        x = i * (bar + gap)
        parts, base = [], height
        for value, colour in (
            (run.successful_payouts, "#2e7d32"),
            (run.failed_payouts, "#c62828"),
            (run.retried_payouts, "#f9a825"),
        ):
            h = round(value * (height - 10) / top)
            if h:
                base -= h
                parts.append({"y": base, "h": h, "colour": colour})
        bars.append({"x": x, "parts": parts, "run": run})
    return {"width": max(len(runs) * (bar + gap), bar), "height": height, "bar": bar, "bars": bars, "top": top}
