"""What this CPU can do, from /proc/cpuinfo: recorded with every benchmark figure and used by ``auto``.

Machines of the same kind differ (some AVX-512 with VNNI/BF16, some AVX2 only), so decisions read
the flags of the machine they run on, never a constant.
"""

from __future__ import annotations

import functools
import platform

#: Flags that change which engine / precision is fastest on x86 CPUs.
INTERESTING = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """Every flag of the first CPU in /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_features() -> list[str]:
    """The :data:`INTERESTING` flags this CPU has, in that order."""
    return [f for f in INTERESTING if f in cpu_flags()]


@functools.cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), platform.processor())
    except OSError:
        return platform.processor() or platform.machine()


def has_bf16() -> bool:
    """Native BF16 arithmetic (AVX512_BF16 or AMX-BF16): where a BF16 inference hint pays off."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
