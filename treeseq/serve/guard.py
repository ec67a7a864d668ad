"""The ASGI guard around the service's app: security headers, the body's size and time limits, and an
error that escapes the app answered as one JSON line instead of closing the connection."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from fastapi.responses import Response

logger = logging.getLogger(__name__)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}  # fmt: skip


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps({"error": message}, ensure_ascii=False).encode("utf-8", "backslashreplace"), status,
                    headers=headers, media_type="application/json")  # fmt: skip


class Guard:
    """ASGI middleware around the app: the security headers on every response; a request body over
    `limit` bytes answered 413 before it is parsed (counted even without a Content-Length); a body
    that does not arrive within `timeout` seconds answered 408; and an error that escapes the app
    answered as one JSON line (and logged) instead of closing the connection.

    Plain ASGI: Starlette's call_next middleware costs a task and a stream per request, which showed
    under many concurrent clients.
    """

    def __init__(self, app: Any, limit: int, timeout: float) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope: dict, receive: Any, plain_send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, plain_send)
            return
        started = False

        async def send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                present = {key.lower() for key, _ in headers}
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.lower().encode() not in present]
                message = {**message, "headers": headers}
            await plain_send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and len(declared) < 20 and int(declared) > self.limit:
            await self._refuse(send, 413, f"request body over the limit of {self.limit:,} bytes")
            return
        try:
            body = await self._read(receive)
        except TimeoutError:
            await self._refuse(send, 408, f"the request body did not arrive within {self.timeout:g} s", close=True)
            return
        except _TooLarge:
            await self._refuse(send, 413, f"request body over the limit of {self.limit:,} bytes")
            return
        if body is None:
            return  # the client went away
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self.app(scope, replay, send)
        except Exception as err:  # noqa: BLE001 - never a traceback to the client, never a closed connection
            logger.error("internal error on %s %s: %s", scope.get("method"), scope.get("path"), err, exc_info=err)
            if not started:
                await self._refuse(send, 500, f"internal error ({type(err).__name__}); see the server's log")

    async def _read(self, receive: Any) -> bytes | None:
        """The body, bounded in size and time (read before the app does: FastAPI would turn an error
        raised while it reads into a 400)."""
        chunks, seen, more = [], 0, True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while more:
            message = await _within(receive(), deadline - loop.time())
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                raise _TooLarge
            more = message.get("more_body", False)
        return b"".join(chunks)

    @staticmethod
    async def _refuse(send: Any, status: int, message: str, close: bool = False) -> None:
        response = error_response(status, message, {"connection": "close"} if close else None)
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _within(awaitable: Any, seconds: float) -> Any:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(max(seconds, 0)):
            return await awaitable
    try:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(awaitable, max(seconds, 0))
    except asyncio.TimeoutError:  # pragma: no cover
        raise TimeoutError from None


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}
