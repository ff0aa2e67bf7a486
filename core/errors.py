"""One error type for the whole platform, and the DRF handler that renders it.

Services raise `ApplicationError` (or a subclass); views never build error bodies by hand. Every
error leaves the API as `{"error": {"code": ..., "message": ..., "details": {...}}}`.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = structlog.get_logger(__name__)


class ApplicationError(Exception):
    """A business error with a stable machine-readable code and an HTTP status."""

    status_code = 422
    code = "business_rule"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details or {}

    def as_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "validation_error"


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class InsufficientFunds(ApplicationError):
    status_code = 422
    code = "insufficient_funds"


class DependencyDown(ApplicationError):
    status_code = 503
    code = "dependency_unavailable"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error becomes the one JSON error body."""
    if isinstance(exc, ApplicationError):
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # Unexpected: Django's 500 handling (and its logging) takes over.

    if isinstance(exc, drf_exceptions.ValidationError):
        body = error_body("validation_error", "The request is not valid.", {"fields": exc.detail})
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        if getattr(exc, "detail", None) is not None and hasattr(exc, "get_codes"):
            message = str(exc.detail)  # type: ignore[attr-defined]
        else:
            message = str(exc)
        details: dict[str, Any] = {}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
            details["retry_after_s"] = int(wait)
        body = error_body(code, message, details)
    response.data = body
    return response
