"""`edgeinpaint serve` as a real process on a free port (port 0: the server prints the one it bound)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serve_process(argv: list[str], env: dict[str, str] | None = None, log: list[str] | None = None) -> Iterator[int]:
    """Start ``argv`` (a ``serve --port 0`` command line), yield its port once it accepts connections, stop it
    with SIGINT (killed if it does not exit within 60 s); ``log`` gets what it wrote to stderr after starting."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline, port = time.time() + 120, None
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            found = re.search(r"serving http://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None
        assert port, "serve did not start"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            err = proc.communicate(timeout=60)[1]
        except Exception:
            proc.kill()
            err = proc.communicate()[1]
        if log is not None:
            log.append(err or "")
