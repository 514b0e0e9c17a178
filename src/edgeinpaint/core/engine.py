"""The Engine protocol: one loaded network, whatever the backend (runtime/engines/ implements it).

Engines are opened through the one table in ``runtime/engines`` (``open_engines``), never by an
if/elif chain; every engine is a context manager whose ``close`` may be called any number of times.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from types import TracebackType
from typing import Generic, Protocol, TypeVar

import numpy as np

from edgeinpaint.core.errors import InputError

SelfT = TypeVar("SelfT", bound="Closing")
V = TypeVar("V")

#: CUDA graphs kept per engine: each holds its own copy of the activations, and the HD strategy's crops
#: make nearly every shape new, so an unbounded cache grows with the number of distinct crops.
MAX_GRAPHS = 8


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


class GraphCache(Generic[V]):
    """The ``limit`` most recently used CUDA graphs by input shapes; an evicted one is released (``release``).

    Args:
        limit: graphs kept (>= 1). release: frees one (destroys the graph and its executable).
    """

    def __init__(self, limit: int = MAX_GRAPHS, release: Callable[[V], None] = lambda _v: None) -> None:
        self.limit, self.release = max(1, limit), release
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V:
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        while len(self._items) > self.limit:
            _key, old = self._items.popitem(last=False)
            self.release(old)

    def clear(self) -> None:
        while self._items:
            self.release(self._items.popitem()[1])
