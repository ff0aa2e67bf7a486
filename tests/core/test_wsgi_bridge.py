"""The ASGI-to-WSGI bridge HTTP goes through: whole requests and responses in one hand-over each
way, long uploads and streaming responses as a2wsgi streams them, through a real event loop and
thread pool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.wsgi_bridge import WSGIBridge

SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/echo",
    "raw_path": b"/echo",
    "query_string": b"a=1",
    "root_path": "",
    "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
}


def serve(app: Any, pieces: list[bytes], *, body_limit: int = 1024, scope: dict[str, Any] | None = None) -> list[Any]:
    """Run one request through the bridge; returns what it sent."""
    messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    sent: list[Any] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        bridge = WSGIBridge(app, workers=2, body_limit=body_limit)
        try:
            await bridge({**SCOPE, **(scope or {})}, receive, send)
        finally:
            bridge.executor.shutdown()

    asyncio.run(run())
    return sent


class Echo:
    """A WSGI application that answers with what it read, and remembers being closed."""

    def __init__(self) -> None:
        self.closed = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Seen", environ["QUERY_STRING"])])
        app = self

        class Answer(list[bytes]):
            def close(self) -> None:
                app.closed += 1

        return Answer([b'{"echo": ', body, b"}"])


def test_a_whole_request_and_response_cross_once() -> None:
    app = Echo()

    sent = serve(app, [b'{"stake":', b" 1000}"])

    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"x-seen", b"a=1")],
        },
        {"type": "http.response.body", "body": b'{"echo": {"stake": 1000}}'},
    ]
    assert app.closed == 1


def test_a_body_longer_than_the_limit_streams_to_the_application_whole() -> None:
    app = Echo()
    pieces = [b"0123456789"] * 5

    sent = serve(app, pieces, body_limit=16)

    assert sent[0]["status"] == 201
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b'{"echo": ' + b"0123456789" * 5 + b"}"
    assert app.closed == 1


def test_a_streaming_response_goes_out_chunk_by_chunk() -> None:
    sent: list[Any] = []
    seen_before_next: list[int] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Type", "text/csv")])

        def rows() -> Iterator[bytes]:
            for n in range(3):
                # Each chunk is on its way before the application is asked for the next one.
                seen_before_next.append(sum(1 for m in sent if m.get("body")))
                yield f"row {n}\n".encode()

        class Streaming:
            streaming = True

            def __iter__(self) -> Iterator[bytes]:
                return rows()

        return Streaming()

    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        bridge = WSGIBridge(app, workers=1)
        await bridge({**SCOPE, "method": "GET"}, receive, send)
        bridge.executor.shutdown()

    asyncio.run(run())

    assert seen_before_next == [0, 1, 2]
    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]}
    assert [m["body"] for m in sent[1:]] == [b"row 0\n", b"row 1\n", b"row 2\n", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]


def test_a_client_gone_before_its_body_arrived_runs_nothing() -> None:
    app = Echo()

    sent = serve(app, [])

    assert sent == [] and app.closed == 0


def test_only_http_goes_through_the_bridge() -> None:
    with pytest.raises(ValueError, match="HTTP only"):
        serve(Echo(), [b""], scope={"type": "websocket"})


@pytest.mark.django_db(transaction=True)
def test_django_answers_through_the_bridge(user: Any) -> None:
    from django.core.wsgi import get_wsgi_application
    from rest_framework_simplejwt.tokens import AccessToken

    token = str(AccessToken.for_user(user)).encode()
    scope = {
        "method": "GET",
        "path": "/api/me",
        "raw_path": b"/api/me",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", b"Bearer " + token)],
    }

    sent = serve(get_wsgi_application(), [b""], scope=scope)

    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["username"] == user.username
