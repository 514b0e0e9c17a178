"""Inference engines behind one protocol; pick one from :data:`ENGINE_FACTORIES`, never by if/elif."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np


class Engine(Protocol):
    """A loaded network.

    ``run`` takes NCHW float32 feeds by input name and returns outputs by name.
    """

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(
        self, feeds: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray] | None = None
    ) -> Mapping[str, np.ndarray]: ...

    def close(self) -> None: ...


def deliver(named: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray] | None) -> Mapping[str, np.ndarray]:
    """Return ``named``, or copy it into the caller's preallocated ``out`` arrays and return those."""
    if out is None:
        return named
    for key, arr in out.items():
        arr[...] = named[key]
    return out
