"""Timing primitives: warm-up, steady-state loop, statistics, memory readings."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Stats:
    """Latency statistics of one configuration (milliseconds per call)."""

    median_ms: float
    p90_ms: float
    p99_ms: float
    calls: int
    images_per_s: float

    @classmethod
    def from_samples(cls, seconds: list[float], batch: int) -> Stats:
        arr = np.asarray(seconds, np.float64) * 1e3
        total = float(np.sum(arr)) / 1e3
        return cls(
            median_ms=float(np.median(arr)),
            p90_ms=float(np.percentile(arr, 90)),
            p99_ms=float(np.percentile(arr, 99)),
            calls=len(seconds),
            images_per_s=batch * len(seconds) / total if total > 0 else float("inf"),
        )


def measure(
    fn: Callable[[], object],
    batch: int,
    warmup: int = 2,
    iterations: int | None = None,
    duration: float | None = 3.0,
    sync: Callable[[], None] | None = None,
) -> Stats:
    """Warm up, then time ``fn`` until ``iterations`` calls or ``duration`` seconds (at least 3 calls).

    ``sync`` runs inside the timed region (device synchronisation on GPUs), so asynchronous work is
    counted where it happens.
    """
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    samples: list[float] = []
    t_end = time.perf_counter() + (duration or 0)
    while True:
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        samples.append(time.perf_counter() - t0)
        if iterations is not None:
            if len(samples) >= iterations:
                break
        elif len(samples) >= 3 and time.perf_counter() >= t_end:
            break
    return Stats.from_samples(samples, batch)


def rss_mb() -> float:
    """Resident set size of this process now (MB), from /proc (0 where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant, parents first (from /proc; processes that vanish meanwhile are left out)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants, summed (from /proc)."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
