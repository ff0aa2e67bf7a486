"""Payouts through Stripe: withdrawals (services), batch runs (runs), the Stripe adapter
(stripe_adapter) and its circuit breaker (breaker), schedules written to django-celery-beat
(schedules), Stripe webhooks (webhooks), alerts and monitoring, the API (api, api_ops), admin
and the operator page, tasks, demo data. Models live in payments/models/payouts.py."""
