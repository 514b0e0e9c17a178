"""Run inside a private network namespace by test_ray_serve.py: `edgeinpaint serve --ray`, then SIGTERM.

usage: python ray_serve_sigterm_probe.py ARTIFACTS PORT RAY_TMPDIR OUT_JSON
Records the command's exit code and the Ray processes of this run (their command lines name RAY_TMPDIR)
still alive 20 s after it exited.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def ours(tmpdir: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if tmpdir.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def main() -> None:
    artifacts, port, tmpdir, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    import httpx

    argv = [sys.executable, "-m", "edgeinpaint.cli", "serve", "--ray", "--replicas", "1", "--port", str(port)]
    proc = subprocess.Popen([*argv, "--artifacts", artifacts], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, up = time.time() + 240, False
    while time.time() < deadline and proc.poll() is None and not up:
        try:
            up = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.5)
    during = len(ours(tmpdir))
    proc.send_signal(signal.SIGTERM)
    try:
        output = proc.communicate(timeout=120)[0].decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0].decode(errors="replace")
    for _ in range(40):  # Ray's processes get a moment to exit
        if not ours(tmpdir):
            break
        time.sleep(0.5)
    left = ours(tmpdir)
    for pid in left:  # never leave them behind, whatever the result
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    report = {"up": up, "during": during, "rc": proc.returncode, "left": len(left), "output": output[-3000:]}
    out.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
