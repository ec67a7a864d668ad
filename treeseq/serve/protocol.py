"""The HTTP connection guard: uvicorn's h11 protocol with a time limit on reading a request's headers and
a cap on open connections.

uvicorn closes a keep-alive connection that stays idle after an answer (`timeout_keep_alive`), but a
connection that has sent part of a request's headers, or nothing at all, is kept forever: hundreds of
half-sent requests held sockets and made a graceful stop wait its whole grace period. Here every
request must have sent its headers within `header_timeout` seconds of its first byte (or of the
connection's start); else the connection is closed. The body's own time limit is the app's
(`treeseq.serve.app`). A connection beyond `max_connections` open ones is answered 503 with
Retry-After and closed after its first request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def over_capacity_app(max_connections: int) -> Any:
    """An ASGI app answering every request 503 (JSON, Retry-After) and closing the connection."""
    body = json.dumps({"error": f"the server holds {max_connections:,} open connections, its limit; retry later"}).encode()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    return app


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a header read timeout and a connection cap, set on the class by `guarded_protocol`."""

    header_timeout: float = 10.0
    max_connections: int = 1024
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self.app = over_capacity_app(self.max_connections)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # its headers are in: the app's body time limit takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol class with these limits (uvicorn takes a protocol class: `Config(http=...)`)."""
    return type("TreeseqH11Protocol", (GuardedH11Protocol,), {"header_timeout": header_timeout, "max_connections": max_connections})
