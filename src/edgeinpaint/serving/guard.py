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
  (chunked) is counted as it streams and cut at the budget with a 413;
- bodies in flight share one budget (``max_inflight``): a request whose body would take the total
  over it is 503 with Retry-After before it is read (memory grows with load, never with the number
  of clients); a body that stalls longer than ``body_timeout`` between chunks is 408.

Every refusal is JSON ``{"error": ...}``, like the endpoint's own.
"""

from __future__ import annotations

import asyncio
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


async def _answer(send: Send, status: int, message: str, retry: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Wraps the ASGI app (module docstring).

    Args:
        app: the FastAPI app. hosts: accepted ``Host`` names (None = any). api_key: required key or None.
        max_body: bytes a request body may have (both uploads and the form fields).
    """

    def __init__(
        self,
        app: Any,
        hosts: frozenset[str] | None,
        api_key: str | None,
        max_body: int,
        max_inflight: int | None = None,
        body_timeout: float = 30.0,
    ) -> None:
        self.app, self.hosts, self.api_key, self.max_body = app, hosts, api_key, max_body
        self.max_inflight = max_inflight if max_inflight is not None else 8 * max_body
        self.body_timeout = body_timeout
        #: bytes of request bodies being received or held by requests in progress (one event loop: no lock)
        self.inflight = 0

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
        """Run the app with the body counted as it streams; past the budget: 413 (or 503 when the server's
        in-flight budget is spent, 408 when the client stalls), and the app is told the client left (it
        stops reading), its own answer dropped."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = int(headers.get("content-length", "0") or 0)
        # Small bodies (an ordinary photo) keep a quarter of the budget in reserve: large uploads filling
        # it make each other wait, not every client.
        limit = self.max_inflight if declared > self.max_inflight // 64 else self.max_inflight * 5 // 4
        if scope.get("method") in ("POST", "PUT", "PATCH") and self.inflight + declared > limit:
            await _answer(send, 503, "the server is busy receiving other uploads; retry shortly", retry=True)
            return
        held = declared  # reserved up front; grows if a chunked body turns out larger
        self.inflight += held
        received = 0
        cut = False

        async def refuse(status: int, message: str) -> Message:
            nonlocal cut
            cut = True
            await _answer(send, status, message, retry=status == 503)
            return {"type": "http.disconnect"}

        async def counted() -> Message:
            nonlocal received, held
            if cut:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                return await refuse(408, f"request body: nothing received for {self.body_timeout:.0f} s")
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    return await refuse(413, f"request body: more than {self.max_body:,} bytes")
                if received > held:
                    self.inflight += received - held
                    held = received
                    if self.inflight > self.max_inflight:
                        return await refuse(503, "the server is busy receiving other uploads; retry shortly")
            return message

        async def unless_cut(message: Message) -> None:
            if not cut:
                await send(message)

        try:
            await self.app(scope, counted, unless_cut)
        except Exception:
            if not cut:  # the app's own failure; after a cut it is only the aborted parse
                raise
        finally:
            self.inflight -= held
