"""Running the app under uvicorn, hardened against slow clients.

uvicorn (0.3x-0.5x) has no deadline for receiving a request's head: its keep-alive timer is cancelled by
every byte received (``H11Protocol.data_received``) and re-armed only after a response, so a client that
sends one header byte per second holds its connection, and a thousand of them hold the server (the
finding xorbitsai/inference fixed the same way: a protocol subclass with a timer). Here:

- :class:`DeadlineProtocol` closes a connection whose request head is not complete within
  ``header_timeout`` seconds of the connection (or of the previous response, on keep-alive);
- the body has its own deadline between chunks (serving/guard.py, 408);
- connections are capped (``limit_concurrency``: 503 beyond) below the process's file-descriptor limit,
  which is raised to its hard limit first.

For the open internet put a reverse proxy in front (nginx, Caddy, Envoy) for TLS and per-client rate
limits; this keeps one process alive and answering, it does not replace one.
"""

from __future__ import annotations

import copy
import socket
from typing import Any

#: Seconds a client has to send a complete request head.
HEADER_TIMEOUT = 10.0


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6).

    Raises:
        OSError: the address is taken or not ours (the caller turns it into one line).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def logging_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging, quiet except for one access line per request on stderr (when ``access_log``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access_log else "WARNING"
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # logs on stderr, like every other message
    return config


def raise_fd_limit() -> int:
    """Raise the soft file-descriptor limit to the hard one; returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return int(soft if soft != resource.RLIM_INFINITY else 1 << 20)


def deadline_protocol(header_timeout: float) -> type:
    """uvicorn's h11 protocol with a deadline for each request head (module docstring)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineProtocol(H11Protocol):  # type: ignore[misc]
        _head_deadline: Any = None

        def _arm(self) -> None:
            self._disarm()
            self._head_deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _too_slow(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the head is complete (the request has started)
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's head, on this keep-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return DeadlineProtocol


def serve(
    app: Any,
    sock: socket.socket,
    access_log: bool = True,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int | None = None,
) -> None:
    """Run ``app`` on the listening ``sock`` until interrupted.

    Args:
        max_connections: connections served at once (503 beyond); None: 64 below the file-descriptor limit.
    """
    import uvicorn

    limit = raise_fd_limit()
    cap = max_connections if max_connections is not None else max(64, limit - 64)
    config = uvicorn.Config(
        app,
        http=deadline_protocol(header_timeout),
        log_config=logging_config(access_log),
        access_log=access_log,
        limit_concurrency=min(cap, max(16, limit - 32)),
        timeout_keep_alive=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
