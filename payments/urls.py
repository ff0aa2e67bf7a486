from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("payments.topup.urls")),
    path("", include("payments.treasury.urls")),
    path("", include("payments.payouts.urls")),
]
