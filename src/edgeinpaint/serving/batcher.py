"""Dynamic batching for the server: concurrent requests of one batch key (padded size) share an engine call.

Requests are preprocessed (decode, Canny, padding) in the request's own worker thread, then queued
here; one engine thread takes the oldest request, waits up to ``max_delay`` for more of the same
batch key (up to ``max_batch``), runs the generators once and hands each request its raw output.
The queue is bounded: a full queue is refused at once (the server answers 503 with Retry-After), so
memory and latency stay bounded and every accepted request gets its answer.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from edgeinpaint.core.stages import Prepared


class QueueFull(Exception):  # noqa: N818 - the condition, as the 503 it becomes
    """The batcher holds ``queue_size`` requests already."""


@dataclass
class BatchStats:
    """Counters for /metrics: engine calls, their sizes and the queue depth."""

    calls: int = 0
    images: int = 0
    depth: int = 0


class Batcher:
    """One engine thread serving every request.

    Args:
        run: the engine call, prepared images of one batch key -> one raw output each (Recipe.infer).
        max_batch: most samples per call (1 = no batching). max_delay: seconds the first request of
            a batch may wait for company. queue_size: most requests waiting.
        on_batch: called with each batch size (metrics).
    """

    def __init__(
        self,
        run: Callable[[list[Prepared]], list[Any]],
        max_batch: int = 4,
        max_delay: float = 0.005,
        queue_size: int = 64,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.run, self.max_batch, self.max_delay, self.queue_size = run, max(1, max_batch), max_delay, queue_size
        self.on_batch = on_batch
        self.stats = BatchStats()
        self._queue: deque[tuple[tuple[int, int], Prepared, Future[Any]]] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="edgeinpaint-engine", daemon=True)
        self._thread.start()

    def submit(self, sample: Prepared) -> Future[Any]:
        """Queue a prepared image; the future gets its raw output.

        Raises:
            QueueFull: ``queue_size`` requests are waiting already.
        """
        return self._put(sample.batch_key, sample)

    def submit_direct(self, job: Callable[[], Any]) -> Future[Any]:
        """Queue ``job`` to run alone on the engine thread (an image the HD strategy applies to)."""
        return self._put(None, job)

    def _put(self, key: tuple[int, int] | None, payload: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._cond:
            if len(self._queue) >= self.queue_size:
                raise QueueFull
            self._queue.append(((-1, id(future)) if key is None else key, payload, future))
            self.stats.depth = len(self._queue)
            self._cond.notify()
        return future

    def _take(self) -> list[tuple[tuple[int, int], Any, Future[Any]]] | None:
        with self._cond:
            while not self._queue and not self._stopped:
                self._cond.wait()
            if self._stopped and not self._queue:
                return None
            # A request that gave up (timed out: its future was cancelled) is dropped, never run.
            while self._queue and not self._queue[0][2].set_running_or_notify_cancel():
                self._queue.popleft()
            if not self._queue:
                self.stats.depth = 0
                return []
            first = self._queue.popleft()
            batch = [first]
            if first[0][0] >= 0 and self.max_batch > 1:
                deadline = time.monotonic() + self.max_delay
                while len(batch) < self.max_batch:
                    same = next((item for item in self._queue if item[0] == first[0]), None)
                    if same is not None:
                        self._queue.remove(same)
                        if same[2].set_running_or_notify_cancel():
                            batch.append(same)
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0 or self._stopped:
                        break
                    self._cond.wait(left)
            self.stats.depth = len(self._queue)
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            if not batch:
                continue
            try:
                if batch[0][0][0] < 0:  # a direct job
                    results = [batch[0][1]()]
                else:
                    results = self.run([item[1] for item in batch])
                    self.stats.calls += 1
                    self.stats.images += len(batch)
                    if self.on_batch:
                        self.on_batch(len(batch))
                for (_key, _sample, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
            except BaseException as exc:  # the engine's error goes to every request of the batch
                for _key, _sample, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
