"""The Engine protocol: one loaded network, whatever the backend (runtime/engines/ implements it).

Engines are opened through the one table in ``runtime/engines`` (``open_engines``), never by an
if/elif chain; every engine is a context manager whose ``close`` may be called any number of times.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Protocol, TypeVar

import numpy as np

from edgeinpaint.core.errors import InputError

SelfT = TypeVar("SelfT", bound="Closing")


class Engine(Protocol):
    """A loaded network.

    ``run`` takes NCHW float32 feeds by input name and returns outputs by name.
    """

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]: ...

    def close(self) -> None: ...


class Closing:
    """A context manager that calls ``close()`` on exit (engines, generators, recipes, the Python API)."""

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: SelfT) -> SelfT:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class EngineBase(Closing):
    """Lifecycle and input checks shared by every engine class.

    Subclasses set ``input_names`` / ``output_names`` and implement ``_run`` and ``_release``.
    """

    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    _closed: bool = False

    def run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Check the feeds (names, rank, one batch size) and run the network."""
        if self._closed:
            raise RuntimeError(f"{type(self).__name__}: run() after close()")
        check_feeds(self.input_names, feeds)
        return self._run(feeds)

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _release(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Free the engine's resources; idempotent."""
        if not self._closed:
            self._closed = True
            self._release()


def check_feeds(names: tuple[str, ...], feeds: Mapping[str, np.ndarray]) -> None:
    """Every input present, 4-D, and all with the same batch size.

    Raises:
        InputError: naming the input and what was found.
    """
    batch: int | None = None
    for name in names:
        if name not in feeds:
            raise InputError(f"engine input {name!r} missing; got {', '.join(sorted(feeds)) or 'nothing'}")
        shape = np.shape(feeds[name])
        if len(shape) != 4:
            raise InputError(f"engine input {name!r}: expected a 4-D NCHW array, got shape {shape}")
        if batch is None:
            batch = shape[0]
        elif shape[0] != batch:
            raise InputError(f"engine input {name!r}: batch {shape[0]}, other inputs have {batch}")
