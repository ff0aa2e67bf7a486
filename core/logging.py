"""JSON logs with a correlation id on every line, in requests and in Celery tasks.

The id comes from `X-Request-ID` (or is made), is bound in a contextvar for the request, echoed
in the response, put in the headers of every task published while it is bound, and bound again
in the worker before the task runs. Outbound provider calls send it too (core.http).
"""

from __future__ import annotations

import logging
import logging.config
import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from celery import signals
from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_configured = False


def configure() -> None:
    """Route stdlib logging and structlog through one JSON (or console) renderer."""
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if settings.LOG_FORMAT == "console"
        else structlog.processors.JSONRenderer()
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structured"}},
            "root": {"handlers": ["default"], "level": settings.LOG_LEVEL},
            "loggers": {
                "django.db.backends": {"level": "INFO"},
                "httpx": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value else None


def bind_correlation_id(value: str | None) -> str:
    cid = value if value and _VALID_ID.match(value) else new_correlation_id()
    structlog.contextvars.bind_contextvars(correlation_id=cid)
    return cid


class CorrelationIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.clear_contextvars()
        cid = bind_correlation_id(request.headers.get(HEADER))
        request.correlation_id = cid  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.clear_contextvars()
        response[HEADER] = cid
        return response


# Celery's own `correlation_id` is the task id; ours travels under a name of its own.
TASK_HEADER = "tote_correlation_id"


@signals.before_task_publish.connect
def _add_correlation_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
    cid = current_correlation_id()
    if headers is not None and cid and TASK_HEADER not in headers:
        headers[TASK_HEADER] = cid


@signals.task_prerun.connect
def _bind_task_correlation(task: Any = None, task_id: str | None = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    cid = getattr(task.request, TASK_HEADER, None) if task is not None else None
    bind_correlation_id(cid)
    structlog.contextvars.bind_contextvars(task=getattr(task, "name", None), task_id=task_id)


@signals.task_postrun.connect
def _clear_task_correlation(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


@signals.setup_logging.connect
def _celery_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers; ours are used.
    configure()
