from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.health import HealthView
from core.metrics import metrics_view

api_patterns: list[URLPattern | URLResolver] = [
    path("health", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("users.urls")),
    path("", include("ledger.urls")),
    path("", include("betting.urls")),
    path("", include("settlement.urls")),
    path("", include("payments.urls")),
    path("", include("realtime.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("metrics", metrics_view, name="metrics"),
    path("tickets/", include("realtime.page_urls")),
]
