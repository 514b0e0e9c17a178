"""Processes a run starts outside its own tree: ended when the run dies, even by ``kill -9``.

A local Ray cluster started by ``ray.init`` (``run --executor ray``, ``serve --ray``) consists of daemons
(GCS, raylet, dashboard and runtime-env agents) that are not the driver's children in a way the kernel
ties to it: a driver killed with SIGKILL cannot shut them down, and some of them stayed (measured: two
agent processes). A reaper is a small separate process, in its own session so a signal to the driver's
process group does not take it too, that polls the driver and, once it is gone, ends every process
whose command line names the cluster's session folder (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import subprocess
import sys

_REAPER = r"""
import os, signal, sys, time
from pathlib import Path

parent, marker = int(sys.argv[1]), sys.argv[2].encode()

def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False

def marked():
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found

while alive(parent):
    time.sleep(0.5)
for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
    for pid in marked():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.time() + wait
    while time.time() < deadline and marked():
        time.sleep(0.2)
"""


def reap_on_death(marker: str) -> subprocess.Popen[bytes] | None:
    """Start a reaper for this process: when it dies, every process whose command line contains
    ``marker`` (a session folder) is ended. Linux only (``/proc``); None elsewhere."""
    if not marker or not os.path.isdir("/proc"):
        return None
    return subprocess.Popen(
        [sys.executable, "-c", _REAPER, str(os.getpid()), marker],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the driver's process group: survives a signal sent to the group
        close_fds=True,
    )


def ray_session_dir() -> str | None:
    """The session folder of the Ray this process started or joined (None when unknown)."""
    try:
        from ray._private import worker  # Ray 2.x: the node this driver runs on

        node = worker.global_worker.node
        return str(node.get_session_dir_path()) if node is not None else None
    except Exception:
        return None
