from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from users import api

urlpatterns = [
    path("users", api.SignupView.as_view(), name="signup"),
    path("auth/token", TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("me", api.MeView.as_view(), name="me"),
]
