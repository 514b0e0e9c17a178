"""The server's front door: checks made from the request's headers before any byte of its body is read.

A pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would buffer; FastAPI's multipart parsing
stores every upload before the endpoint runs, so checks inside the endpoint come too late):

- ``Host`` must be one of the names the server answers to (DNS rebinding: a page on another site
  whose name resolves to 127.0.0.1 would otherwise reach a loopback server);
- a browser's cross-site request (``Origin`` of another host, or ``Sec-Fetch-Site: cross-site``) is
  refused: no CORS policy allows one, so a page elsewhere cannot make a visitor's browser post here;
- with an API key, every path but ``/healthz`` and the page itself needs ``X-API-Key`` (compared in
  constant time), answered 401 before the body is read;
- the body is budgeted: a ``Content-Length`` above the budget is 413 at once, and a body without one
  (chunked) is counted as it streams and cut at the budget with a 413.

Every refusal is JSON ``{"error": ...}``, like the endpoint's own.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Paths reachable without the API key: the liveness probe, and the page (it asks for the key itself).
OPEN_PATHS = frozenset({"/healthz", "/"})


def host_names(bound: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The ``Host`` names to accept for a server bound to ``bound``; None = any (bound to every interface
    with no names given: the operator decides what fronts it).
    """
    names = {n.lower().strip("[]") for n in extra}
    if bound in ("0.0.0.0", "::", "") and not names:
        return None
    return frozenset(names | {"127.0.0.1", "localhost", "::1", bound.lower().strip("[]")})


def _host_of(value: str) -> str:
    """``host`` of ``host``, ``host:port``, ``[v6]:port`` (lower case, no brackets)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Wraps the ASGI app (module docstring).

    Args:
        app: the FastAPI app. hosts: accepted ``Host`` names (None = any). api_key: required key or None.
        max_body: bytes a request body may have (both uploads and the form fields).
    """

    def __init__(self, app: Any, hosts: frozenset[str] | None, api_key: str | None, max_body: int) -> None:
        self.app, self.hosts, self.api_key, self.max_body = app, hosts, api_key, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self.refusal(str(scope.get("path", "")), headers)
        if problem is not None:
            await _answer(send, *problem)
            return
        await self._budgeted(scope, receive, send)

    def refusal(self, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) when the request's headers alone refuse it, else None.

        Args:
            headers: lower-case names. Also used by the Ray Serve replicas before they read a body.
        """
        problem = self._problem(path, headers)
        if problem is not None:
            return problem
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"request body: {length[:20]} bytes; at most {self.max_body:,} are accepted"
        return None

    def _problem(self, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        host = _host_of(headers.get("host", ""))
        if self.hosts is not None and host not in self.hosts:
            return 421, "this server does not answer to that Host name"
        origin = headers.get("origin")
        if headers.get("sec-fetch-site") == "cross-site" or (
            origin is not None and origin != "null" and _host_of(origin.split("://", 1)[-1]) != host
        ):
            return 403, "cross-site request refused (no CORS policy allows one)"
        if self.api_key is not None and path not in OPEN_PATHS:
            given = headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return 401, "missing or wrong X-API-Key header"
        return None

    async def _budgeted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the body counted as it streams; past the budget: 413, and the app is told the
        client left (it stops reading), its own answer dropped."""
        received = 0
        cut = False

        async def counted() -> Message:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    cut = True
                    await _answer(send, 413, f"request body: more than {self.max_body:,} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def unless_cut(message: Message) -> None:
            if not cut:
                await send(message)

        try:
            await self.app(scope, counted, unless_cut)
        except Exception:
            if not cut:  # the app's own failure; after a cut it is only the aborted parse
                raise
