"""Peak memory of ``edgeinpaint run``: resident memory of the whole process tree plus /dev/shm, sampled.

    python -m edgeinpaint.benchmarks.memory --case large   # 16 images of 12000², --workers 4 --batch-size 4
    python -m edgeinpaint.benchmarks.memory --case small   # 200 images of 256², defaults
    python -m edgeinpaint.benchmarks.memory --src OTHER/src  # the same against another checkout (before/after)

The run is a child process (``python -m edgeinpaint.cli run``) whose tree is sampled every 50 ms
from /proc: peak of the sum of every process's RSS, and peak of the bytes /dev/shm holds. A guard
stops the run (SIGTERM, then SIGKILL after 15 s) when the two together pass ``--guard-gib`` (so
measuring an unbounded version cannot take the machine down); the report then says so. Shared
memory the run leaves behind is removed afterwards and counted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeinpaint.benchmarks.timing import process_tree, tree_rss

#: Segment names edgeinpaint creates (runtime/shm.py; this version adds the creator's pid): only these
#: are counted and cleaned, never other programs' entries in the shared /dev/shm.
_OURS = "edgeinpaint_"


def _ours() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith(_OURS)}


def _shm(skip: set[str] = frozenset()) -> int:  # type: ignore[assignment]
    """Bytes held by edgeinpaint segments in /dev/shm, except those in ``skip`` (there before the run)."""
    total = 0
    with os.scandir("/dev/shm") as it:
        for e in it:
            if e.name.startswith(_OURS) and e.name not in skip:
                with contextlib.suppress(OSError):
                    total += e.stat().st_blocks * 512
    return total


def _images(folder: Path, n: int, side: int) -> tuple[Path, Path]:
    """``n`` PNGs of ``side``² (a smooth gradient: small files at a huge size) and one mask."""
    import cv2

    folder.mkdir(parents=True)
    y, x = np.mgrid[0:side, 0:side]
    base = np.dstack([(x * 255 // side), (y * 255 // side), ((x + y) * 127 // side)]).astype(np.uint8)
    for i in range(n):
        img = np.roll(base, i * 7, axis=1)
        cv2.imwrite(str(folder / f"img{i:03d}.png"), img[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
    mask = np.zeros((side, side), np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(6):  # a few strokes
        p0 = rng.integers(0, side, 2)
        p1 = np.clip(p0 + rng.integers(-side // 8, side // 8, 2), 0, side - 1)
        cv2.line(mask, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 255, max(3, side // 200))
    mask_path = folder.parent / "mask.png"
    cv2.imwrite(str(mask_path), mask)
    return folder, mask_path


def _stop_tree(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the run (its own shutdown unlinks its rings), then SIGKILL what is left of its tree."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    for p in reversed(process_tree(proc.pid)):
        with contextlib.suppress(OSError):
            os.kill(p, 9)


def measure(src: Path | None, images: Path, mask: Path, out: Path, args: list[str], guard: float) -> dict[str, object]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, "-m", "edgeinpaint.cli", "run", "-i", str(images), "-m", str(mask), "-o", str(out), *args]
    names0 = _ours()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_rss = peak_shm = peak_sum = 0
    guarded = False
    while proc.poll() is None:
        rss, shm = tree_rss(proc.pid), _shm(names0)
        peak_rss, peak_shm, peak_sum = max(peak_rss, rss), max(peak_shm, shm), max(peak_sum, rss + shm)
        if rss + shm > guard * (1 << 30):
            guarded = True
            _stop_tree(proc)
            break
        time.sleep(0.05)
    output = proc.communicate()[0].decode(errors="replace")
    # Whatever the run left in /dev/shm (a version without cleanup, or one stopped by the guard) is
    # removed here, and counted: a benchmark must not leave gigabytes of shared memory behind.
    leaked = sorted(_ours() - names0)
    for name in leaked:
        with contextlib.suppress(OSError):
            os.unlink(f"/dev/shm/{name}")
    wall = time.perf_counter() - t0
    return {
        "command": " ".join(cmd[3:]),
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak_rss / (1 << 30), 3),
        "peak_shm_gib": round(peak_shm / (1 << 30), 3),
        "peak_rss_plus_shm_gib": round(peak_sum / (1 << 30), 3),
        "killed_by_guard": guarded,
        "shm_entries_left_and_removed": len(leaked),
        "last_line": output.strip().splitlines()[-1] if output.strip() else "",
    }


CASES = {
    "large": (16, 12000, ["--workers", "4", "--batch-size", "4"]),
    "small": (200, 256, []),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--weights", default="demo")
    parser.add_argument("--src", type=Path, default=None, help="run another checkout's src/ (before/after)")
    parser.add_argument("--count", type=int, default=None, help="override the number of images")
    parser.add_argument("--guard-gib", type=float, default=16.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for case in args.case or ["small", "large"]:
        n, side, extra = CASES[case]
        n = args.count or n
        tmp = Path(tempfile.mkdtemp(prefix="eip-mem-"))
        try:
            images, mask = _images(tmp / "images", n, side)
            row = measure(args.src, images, mask, tmp / "out", ["--weights", args.weights, *extra], args.guard_gib)
            row.update(case=case, images=n, side=side, src=str(args.src or "this checkout"))
            rows.append(row)
            print(json.dumps(row), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    from edgeinpaint.core.cpu import cpu_features, cpu_model

    env = {"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count()}
    print(json.dumps(env))
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
