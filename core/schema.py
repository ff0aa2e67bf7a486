"""OpenAPI extensions for our own classes; drf-spectacular uses them once imported (CoreConfig)."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class JWTScheme(SimpleJWTScheme):
    """core.authentication's JWTAuthentication takes simplejwt's tokens: the same bearer scheme."""

    target_class = "core.authentication.JWTAuthentication"
