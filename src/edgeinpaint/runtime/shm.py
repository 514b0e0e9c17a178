"""A ring of fixed-size shared-memory slots for passing images between processes without pickling.

The engine process creates (and alone unlinks) the segments; workers attach by name. Spawned
workers share the parent's resource tracker, so their attachments register the same name again
(a set: no double bookkeeping) and the parent's unlink clears it; workers must not unregister,
or the parent's own unlink would hit a missing entry in the tracker.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory

import numpy as np

#: Every segment this package creates starts with this prefix (tests look for leftovers by it).
PREFIX = "edgeinpaint_"


@dataclass(frozen=True)
class SlotLayout:
    """Byte layout of one slot: named arrays at fixed offsets.

    Attributes:
        fields: name -> (dtype str, max element count).
    """

    fields: tuple[tuple[str, str, int], ...]

    @property
    def nbytes(self) -> int:
        return sum(_aligned(np.dtype(dt).itemsize * n) for _, dt, n in self.fields)

    def offsets(self) -> dict[str, tuple[int, str, int]]:
        out, off = {}, 0
        for name, dt, n in self.fields:
            out[name] = (off, dt, n)
            off += _aligned(np.dtype(dt).itemsize * n)
        return out


def _aligned(n: int, to: int = 64) -> int:
    return (n + to - 1) // to * to


class SlotRing:
    """``count`` slots of ``layout`` in one shared-memory segment.

    Args:
        layout: slot layout. count: number of slots.
        name: attach to an existing segment (workers); None creates one (the engine process).
    """

    def __init__(self, layout: SlotLayout, count: int, name: str | None = None) -> None:
        self.layout = layout
        self.count = count
        self.slot_bytes = layout.nbytes
        self._offsets = layout.offsets()
        self.owner = name is None
        if self.owner:
            import os
            import secrets

            # The creator's pid in the name: a test (or the memory benchmark) finds its own run's segments
            # in the shared /dev/shm without counting other programs'.
            self.shm = SharedMemory(
                name=f"{PREFIX}{os.getpid()}_{secrets.token_hex(6)}", create=True, size=max(1, self.slot_bytes * count)
            )
        else:
            self.shm = SharedMemory(name=name, create=False)

    @property
    def name(self) -> str:
        return self.shm.name

    def view(self, slot: int, field: str, shape: tuple[int, ...]) -> np.ndarray:
        """A numpy view of ``field`` in ``slot`` with ``shape`` (at most the field's capacity)."""
        off, dt, cap = self._offsets[field]
        count = int(np.prod(shape))
        if count > cap:
            raise ValueError(f"{field}: {count} elements exceed the slot capacity {cap}")
        base = slot * self.slot_bytes + off
        return np.ndarray(shape, dtype=dt, buffer=self.shm.buf, offset=base)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.shm.close()

    def unlink(self) -> None:
        """Close and remove the segment (owner only; safe to call twice)."""
        self.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                self.shm.unlink()
