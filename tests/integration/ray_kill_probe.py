"""Run inside a private network namespace by test_ray_data.py: `run --executor ray`, killed with -9 mid-run.

usage: python ray_kill_probe.py IMAGES MASKS OUT ARTIFACTS RAY_TMPDIR REPORT_JSON
Records how many processes of this run's Ray (their command lines name RAY_TMPDIR) were alive during the
run and how many are left 20 s after the driver was killed.
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
            with contextlib.suppress(OSError):
                if tmpdir.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def main() -> None:
    images, masks, out, artifacts, tmpdir, report = sys.argv[1:7]
    argv = [sys.executable, "-m", "edgeinpaint.cli", "run", "-i", images, "-m", masks, "-o", out]
    driver = subprocess.Popen([*argv, "--artifacts", artifacts, "--executor", "ray", "--backend", "onnxruntime"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and driver.poll() is None and not any(Path(out).glob("*.png")):
        time.sleep(0.2)
    during = len(ours(tmpdir))
    driver.kill()  # kill -9: the driver cannot clean up
    driver.wait()
    for _ in range(60):
        if not ours(tmpdir):
            break
        time.sleep(0.5)
    left = ours(tmpdir)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    Path(report).write_text(json.dumps({"during": during, "left": len(left)}))


if __name__ == "__main__":
    main()
