"""HTTP from the ASGI server to Django's WSGI handler on a thread pool, with one hand-over each way.

a2wsgi's WSGIMiddleware streams both ways: the pool thread asks the event loop for each piece of
the request body and hands it each piece of the response, every time blocking until the loop has
run it. A bet costs five such round trips between threads, each waking the other side and passing
the GIL back and forth, which cost the web process more CPU than the request's own work outside
the view. Here the loop reads a small request body whole before the thread starts, and the thread
returns a complete response whole; the loop writes it.

What does not fit that shape keeps a2wsgi's behaviour: a request body longer than `body_limit`
streams to the application as a2wsgi streams it, and a streaming response (a CSV export, a file)
is sent chunk by chunk as the application yields it, each chunk waiting for the loop as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

from a2wsgi.wsgi import WSGIResponder, build_environ

# Request bodies up to this size are read before the application runs (a placement is ~120 bytes).
BODY_LIMIT = 64 * 1024
SEND_QUEUE_SIZE = 10  # a2wsgi's default, for the requests it serves

Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WSGIBridge:
    """An ASGI application serving HTTP through a WSGI application on `workers` threads."""

    def __init__(self, app: WSGIApp, *, workers: int, body_limit: int = BODY_LIMIT) -> None:
        self.app = app
        self.body_limit = body_limit
        self.executor = ThreadPoolExecutor(thread_name_prefix="WSGI", max_workers=workers)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WSGIBridge serves HTTP only, not {scope['type']!r}")
        body = bytearray()
        more = True
        while more and len(body) <= self.body_limit:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if more:
            # A long upload: what was read goes first, the rest streams as a2wsgi streams it.
            responder = WSGIResponder(self.app, self.executor, SEND_QUEUE_SIZE)  # type: ignore[arg-type]
            await responder(scope, _replaying(bytes(body), receive), send)  # type: ignore[arg-type]
            return
        environ: dict[str, Any] = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type, assignment]
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        respond = functools.partial(context.run, self._respond, environ, loop, send)
        whole = await loop.run_in_executor(self.executor, respond)
        if whole is not None:
            status, headers, content = whole
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})

    def _respond(
        self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop, send: Send
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """In a pool thread: run the application. A complete response comes back whole; a
        streaming one is sent from here, chunk by chunk, and None comes back."""
        response: dict[str, Any] = {"sent": False}
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if exc_info is not None and response["sent"]:
                raise exc_info[1].with_traceback(exc_info[2])
            response["status"], response["headers"] = _status(status), _headers(headers)
            return written.append

        def to_loop(message: Message) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        iterable = self.app(environ, start_response)
        try:
            if not getattr(iterable, "streaming", False):
                content = b"".join([*written, *iterable])
                return response["status"], response["headers"], content
            iterator = iter(iterable)
            first = next(iterator, None)  # WSGI lets an application start its response this late
            to_loop({"type": "http.response.start", "status": response["status"], "headers": response["headers"]})
            response["sent"] = True
            for chunk in chain(written, [] if first is None else [first], iterator):
                to_loop({"type": "http.response.body", "body": chunk, "more_body": True})
            to_loop({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # Django's request_finished: the thread's database connection goes back


def _status(status: str) -> int:
    return int(status.split(" ", 1)[0])


def _headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.strip().encode("latin1").lower(), value.strip().encode("latin1")) for name, value in headers]


def _replaying(first: bytes, receive: Receive) -> Receive:
    """`receive` that first gives back the body already read."""
    pending = [first]

    async def replayed() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": True}
        message: Message = await receive()
        return message

    return replayed
