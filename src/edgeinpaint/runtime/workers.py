"""Shared-memory multi-process pipeline: readers -> engine (this process) -> writers.

Readers decode, validate and preprocess (gray, Canny, padding) into a bounded ring of input slots;
the engine process batches same-size samples through the generators and copies each raw output
(with the input pixels and hole) into an output slot; writers composite (paste or the Poisson
blend, which would otherwise hold up the engines), encode and write atomically. Slots circulate
through "free" queues, so a full ring blocks the producer (backpressure) and memory stays bounded.

Memory: slots are sized for the largest image the *ring* carries, not the largest input. Images
the high-resolution strategy applies to, 16-bit images and images above the slot budget take the
direct route: the engine process runs them itself, one at a time, exactly as ``--in-process``
does (the HD strategy only ever hands the generators crop boxes). The ring's total size is capped
(``max_memory``) before anything is allocated.

Lifetime: processes start with ``spawn``; worker errors come back as text naming the file; every
segment is unlinked on every exit path (normal end, Ctrl-C, SIGTERM, SIGHUP, a worker that dies).
Workers die with the engine process: Linux's parent-death signal (``PR_SET_PDEATHSIG``) plus a
parent-pid check while they wait, so a ``kill -9`` of the main process leaves nothing running; a
worker that does not stop on SIGTERM (stuck inside ONNX Runtime) is killed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinpaint.core.atomic import new_run_tag, remove_temps
from edgeinpaint.core.errors import EdgeInpaintError, InputError
from edgeinpaint.core.images import encode_image
from edgeinpaint.core.jobs import Job
from edgeinpaint.runtime.loading import LoadOptions, load_job
from edgeinpaint.runtime.messages import ReadFailed, SampleReady, Unchanged, WriteRequest, Written
from edgeinpaint.runtime.pipeline import RunSummary, WriteOptions, describe_failure, inpaint_file
from edgeinpaint.runtime.recipe import Finisher, Preparer, Recipe
from edgeinpaint.runtime.shm import SlotLayout, SlotRing

POLL = 0.05
#: Seconds a worker waits on a queue before checking that its parent is still alive.
ORPHAN_CHECK = 1.0
#: Default cap on the two rings' shared memory together (bytes); ``run --max-memory``.
DEFAULT_MAX_MEMORY = 2 << 30
#: Scheduling of reader/writer processes: "idle" (Linux SCHED_IDLE), "nice" (niceness 19) or
#: "normal". The engine process is the throughput limit; I/O workers should run in the cycles its
#: thread pool leaves idle and be preempted the moment an engine thread wakes, not share the
#: cores with it. Starvation cannot stall a run: when the ring drains, the engine blocks and the
#: workers get the cores.
WORKER_PRIORITY = os.environ.get("EDGEINPAINT_WORKER_PRIORITY", "idle")


@dataclass
class PipelineStats:
    """Where the engine process spent a run (seconds): computing, or waiting for readers / writers.

    Attributes:
        direct: jobs the engine process ran itself (HD, 16-bit, above the slot budget).
        ring_bytes: shared memory of both rings.
    """

    engine_busy_s: float = 0.0
    wait_input_s: float = 0.0
    wait_output_s: float = 0.0
    startup_s: float = 0.0
    direct: int = 0
    ring_bytes: int = 0


def input_layout(max_pixels: int, planes: dict[str, tuple[int, ...]]) -> SlotLayout:
    """Pixels, alpha and hole of the largest image, plus the float planes the recipe's preparer makes."""
    return SlotLayout(
        (
            ("rgb8", "uint8", 3 * max_pixels),
            ("alpha", "uint8", max_pixels),
            ("hole", "bool", max_pixels),
            *((name, "float32", int(np.prod(shape))) for name, shape in planes.items()),
        )
    )


def output_layout(max_pixels: int) -> SlotLayout:
    # rgb8: the finished image, or the input when the writer composites (with raw and hole).
    return SlotLayout(
        (
            ("rgb8", "uint8", 3 * max_pixels),
            ("alpha", "uint8", max_pixels),
            ("raw", "float32", 3 * max_pixels),
            ("hole", "bool", max_pixels),
        )
    )


@dataclass(frozen=True)
class Routes:
    """Which jobs go through the ring and how big its slots are.

    Attributes:
        ring: job indices prepared by readers. direct: indices the engine process runs itself.
        max_pixels: slot capacity (pixels). planes: the largest float planes a slot carries
            (name -> shape, the preparer's ``plane_shapes``). slots: slot count.
    """

    ring: list[int]
    direct: list[int]
    max_pixels: int
    planes: dict[str, tuple[int, ...]]
    slots: int

    @property
    def nbytes(self) -> int:
        if not self.ring:
            return 0
        per_slot = input_layout(self.max_pixels, self.planes).nbytes + output_layout(self.max_pixels).nbytes
        return self.slots * per_slot


def _header(job: Job) -> tuple[int, int, bool] | None:
    """(H, W, deep) from the file header, or None when it cannot be read (the job reports it)."""
    from PIL import Image

    try:
        with Image.open(job.image) as img:
            w, h = img.size
            deep = img.mode in ("I;16", "I;16B", "I;16L", "I")
            orientation = img.getexif().get(0x0112, 1)
    except Exception:
        return None
    if orientation in (5, 6, 7, 8):  # EXIF rotation by 90°: the decoded image is W x H
        h, w = w, h
    return h, w, deep


def plan_routes(jobs: list[Job], recipe: Recipe, slots: int, min_slots: int, max_memory: int) -> Routes:
    """Route every job and size the ring so both rings together stay within ``max_memory`` bytes.

    Jobs the recipe cannot batch (the high-resolution strategy) and 16-bit images go direct. Slots
    shrink to ``min_slots`` first; then the largest images move to the direct route until the ring fits.
    """
    ring: list[tuple[int, int, int, int]] = []  # (pixels, height, width, index)
    direct: list[int] = []
    for i, job in enumerate(jobs):
        header = _header(job)
        if header is None:
            ring.append((12 * 12, 12, 12, i))  # unreadable: a reader reports it with the file name
            continue
        h, w, deep = header
        if deep or not recipe.batchable(h, w):
            direct.append(i)
        else:
            ring.append((h * w, h, w, i))
    ring.sort()
    while ring:
        max_pixels = max(12 * 12, ring[-1][0])
        planes = _largest_planes(recipe, [(h, w) for _, h, w, _ in ring])
        for count in range(slots, min_slots - 1, -1):
            routes = Routes([i for *_, i in ring], direct, max_pixels, planes, count)
            if routes.nbytes <= max_memory:
                return Routes(sorted(routes.ring), sorted(direct), max_pixels, planes, count)
        direct.append(ring.pop()[3])
    return Routes([], sorted(direct), 0, {}, 0)


def _largest_planes(recipe: Recipe, sizes: list[tuple[int, int]]) -> dict[str, tuple[int, ...]]:
    """Per plane the largest element count among ``sizes`` (a slot's view takes any shape that fits)."""
    largest: dict[str, tuple[int, ...]] = {}
    for h, w in [(12, 12), *sizes]:
        for name, shape in recipe.preparer.plane_shapes(h, w).items():
            if name not in largest or np.prod(shape) > np.prod(largest[name]):
                largest[name] = shape
    return largest


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this worker when the engine process dies (prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1 (linux/prctl.h)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _quiet_worker(parent: int) -> None:
    _die_with_parent(parent)
    _lower_priority(WORKER_PRIORITY)
    # Ctrl-C and a closed terminal reach the whole process group: the engine process coordinates shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # terminate() from the engine process: unwind through `finally` so an output being written
    # removes its temp file instead of leaving it behind.
    signal.signal(signal.SIGTERM, _exit_on_term)


def _lower_priority(mode: str) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not permitted: keep normal
        if mode == "idle":
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        elif mode == "nice":
            os.nice(19)


def _exit_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _take(q: Any, parent: int) -> Any:
    """``q.get()`` that gives up when the parent is gone (a fallback where PDEATHSIG is unavailable)."""
    while True:
        try:
            return q.get(timeout=ORPHAN_CHECK)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(1)


@dataclass(frozen=True)
class _Shared:
    """What every worker gets at start (picklable)."""

    jobs: list[Job]
    in_ring: str
    in_layout: SlotLayout
    out_ring: str
    out_layout: SlotLayout
    slots: int
    parent: int


def reader_main(shared: _Shared, todo: Any, free: Any, ready: Any, load: LoadOptions, preparer: Preparer) -> None:
    """Decode + prepare jobs into input slots (the recipe's ``prepare``); errors are sent as text."""
    _quiet_worker(shared.parent)
    ring = SlotRing(shared.in_layout, shared.slots, name=shared.in_ring)
    try:
        while (index := _take(todo, shared.parent)) is not None:
            job = shared.jobs[index]
            slot = None
            try:
                loaded = load_job(job, load)
                rgb, hole = loaded.decoded.rgb, loaded.hole
                if rgb.dtype != np.uint8:
                    raise InputError(f"{job.image}: 16-bit image reached a reader; expected the direct route")
                h, w = hole.shape
                prepared = preparer(rgb, hole) if hole.any() else None
                slot = _take(free, shared.parent)
                ring.view(slot, "rgb8", (h, w, 3))[...] = rgb
                has_alpha = loaded.alpha is not None
                if has_alpha:
                    ring.view(slot, "alpha", (h, w))[...] = loaded.alpha
                warnings = tuple(loaded.warnings)
                if prepared is None:
                    ready.put(Unchanged(index, slot, (h, w), has_alpha, warnings))
                    continue
                ring.view(slot, "hole", (h, w))[...] = prepared.hole
                for name, arr in prepared.planes().items():
                    ring.view(slot, name, arr.shape)[...] = arr
                ready.put(SampleReady(index, slot, (h, w), prepared.batch_key, has_alpha, warnings))
            except Exception as exc:  # every failure is reported with the file; a bug must not hang the run
                if slot is not None:
                    free.put(slot)  # the slot goes back: a failure never shrinks the ring
                ready.put(ReadFailed(index, describe_failure(job, exc)))
    finally:
        ring.close()


def writer_main(shared: _Shared, ready: Any, free: Any, results: Any, write: WriteOptions, finisher: Finisher) -> None:
    """Finish (the recipe's composite, when asked) and encode output slots atomically; report each job's outcome."""
    _quiet_worker(shared.parent)
    ring = SlotRing(shared.out_layout, shared.slots, name=shared.out_ring)
    try:
        while (item := _take(ready, shared.parent)) is not None:
            request: WriteRequest = item
            job = shared.jobs[request.job]
            h, w = request.size
            error = None
            try:
                pixels = np.array(ring.view(request.slot, "rgb8", (h, w, 3)))
                if request.composite:  # the raw output and the input: paste or Poisson here
                    raw = ring.view(request.slot, "raw", (h, w, 3))
                    pixels = finisher(raw, pixels, ring.view(request.slot, "hole", (h, w)))
                alpha = np.array(ring.view(request.slot, "alpha", (h, w))) if request.has_alpha else None
                encode_image(
                    pixels,
                    job.output,
                    quality=write.quality,
                    alpha=alpha,
                    png_compression=write.png_compression,
                    tag=write.tag,
                )
            except Exception as exc:  # reported per file
                error = describe_failure(job, exc)
            free.put(request.slot)
            results.put(Written(request.job, error))
    finally:
        ring.close()


class _TerminatedError(Exception):
    pass


def run_pipeline(
    inpainter: Recipe,
    jobs: list[Job],
    workers: int = 2,
    batch_size: int = 1,
    slots: int | None = None,
    load: LoadOptions | None = None,
    write: WriteOptions | None = None,
    on_done: Callable[[Job, str | None], None] | None = None,
    stats: PipelineStats | None = None,
    max_memory: int = DEFAULT_MAX_MEMORY,
) -> RunSummary:
    """Run ``jobs`` through reader processes, this process's engines and writer processes.

    Args:
        workers: reader processes (writers: half as many, at least one).
        batch_size: prepared images of one batch key (the recipe's) per engine call.
        slots: ring size (default: enough for two batches per reader).
        stats: filled with the engine process's busy / waiting times and the ring's size.
        max_memory: cap on both rings' shared memory (bytes); see :func:`plan_routes`.
    """
    load = load or LoadOptions()
    write = write or WriteOptions()
    if write.tag is None:  # temps named per run, so cleanup after a worker death removes only ours
        write = dataclasses.replace(write, tag=new_run_tag())
    summary = RunSummary()
    stats = stats if stats is not None else PipelineStats()
    todo_jobs = list(jobs)  # existing outputs were set aside by run_batch (--skip-existing)
    if not todo_jobs:
        return summary
    n_readers = max(1, workers)
    n_writers = max(1, workers // 2)
    wanted = slots or max(4, 2 * batch_size + 2 * n_readers)
    routes = plan_routes(todo_jobs, inpainter, wanted, min(wanted, batch_size + 1), max_memory)
    stats.direct, stats.ring_bytes = len(routes.direct), routes.nbytes
    state = _EngineState(inpainter, todo_jobs, summary, on_done, stats, load, write)
    if not routes.ring:
        for index in routes.direct:
            state.run_direct(index)
        return summary
    in_layout, out_layout = input_layout(routes.max_pixels, routes.planes), output_layout(routes.max_pixels)
    ctx = mp.get_context("spawn")
    in_ring = SlotRing(in_layout, routes.slots)
    out_ring = SlotRing(out_layout, routes.slots)
    shared = _Shared(todo_jobs, in_ring.name, in_layout, out_ring.name, out_layout, routes.slots, os.getpid())
    todo, free_in, ready_in = ctx.Queue(), ctx.Queue(), ctx.Queue()
    free_out, ready_out, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    for i in range(routes.slots):
        free_in.put(i)
        free_out.put(i)
    procs: list[Any] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def on_term(signum: int, frame: Any) -> None:
        raise _TerminatedError

    for sig in previous:
        signal.signal(sig, on_term)  # a closed terminal (SIGHUP) stops the run like SIGTERM
    try:
        # Readers run the recipe's prepare, writers its finish (both picklable; the engines stay here).
        for count, target, args in (
            (n_readers, reader_main, (shared, todo, free_in, ready_in, load, inpainter.preparer)),
            (n_writers, writer_main, (shared, ready_out, free_out, results, write, inpainter.finisher)),
        ):
            procs.extend(ctx.Process(target=target, args=args, daemon=True) for _ in range(count))
        for p in procs:
            p.start()
        for i in routes.ring:
            todo.put(i)
        for _ in range(n_readers):
            todo.put(None)
        state.procs = procs
        _engine_loop(
            state, routes, _Queues(ready_in, free_in, free_out, ready_out, results), in_ring, out_ring, batch_size
        )
        for _ in range(n_writers):
            ready_out.put(None)
        for p in procs:
            p.join(timeout=10)
    except _TerminatedError:
        raise KeyboardInterrupt from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(procs)
        if any(p.exitcode not in (0, None) for p in procs) and write.tag:
            remove_temps({job.output.parent for job in todo_jobs}, write.tag)
        for q in (todo, free_in, ready_in, free_out, ready_out, results):
            q.cancel_join_thread()
            q.close()
        in_ring.unlink()
        out_ring.unlink()
    return summary


def _stop(procs: list[Any], grace: float = 3.0) -> None:
    """SIGTERM the workers still running, then SIGKILL those that do not exit within ``grace`` seconds."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():  # stuck in native code (e.g. inside an ONNX Runtime Loop)
            p.kill()
            p.join(timeout=2)


@dataclass
class _Queues:
    ready_in: Any
    free_in: Any
    free_out: Any
    ready_out: Any
    results: Any


class _EngineState:
    """The engine process's bookkeeping: outcomes, progress and the direct route."""

    def __init__(
        self,
        inpainter: Recipe,
        jobs: list[Job],
        summary: RunSummary,
        on_done: Callable[[Job, str | None], None] | None,
        stats: PipelineStats,
        load: LoadOptions,
        write: WriteOptions,
    ) -> None:
        self.inpainter, self.jobs, self.summary, self.on_done, self.stats = inpainter, jobs, summary, on_done, stats
        self.load, self.write = load, write
        self.finished = 0
        self.procs: list[Any] = []

    def record(self, index: int, error: str | None) -> None:
        job = self.jobs[index]
        if error is None:
            self.summary.done.append(job.relative)
        else:
            self.summary.failed.append((job.relative, error))
        self.finished += 1
        if self.on_done:
            self.on_done(job, error)

    def run_direct(self, index: int) -> None:
        """One job entirely in this process (HD, 16-bit or above the slot budget): as ``--in-process``."""
        job = self.jobs[index]
        t0 = time.perf_counter()
        try:
            warnings = inpaint_file(self.inpainter, job, self.load, self.write)
            self.summary.warnings.extend((job.relative, w) for w in warnings)
            error = None
        except Exception as exc:
            error = describe_failure(job, exc)
        self.stats.engine_busy_s += time.perf_counter() - t0
        self.record(index, error)


def _engine_loop(
    state: _EngineState,
    routes: Routes,
    queues: _Queues,
    in_ring: SlotRing,
    out_ring: SlotRing,
    batch_size: int,
) -> None:
    stats, inpainter, procs = state.stats, state.inpainter, state.procs
    t_start = time.perf_counter()
    total = len(routes.ring) + len(routes.direct)
    direct = list(routes.direct)
    received = 0  # items taken from readers
    pending: dict[tuple[int, int], list[SampleReady]] = {}

    def emit(
        index: int, size: tuple[int, int], rgb8: np.ndarray, alpha: np.ndarray | None, raw: Any = None, hole: Any = None
    ) -> None:
        """Hand an image to the writers: finished (``rgb8``), or raw output + input to composite."""
        t0 = time.perf_counter()
        slot = _get(queues.free_out, procs)
        stats.wait_output_s += time.perf_counter() - t0
        h, w = size
        out_ring.view(slot, "rgb8", (h, w, 3))[...] = rgb8
        if alpha is not None:
            out_ring.view(slot, "alpha", (h, w))[...] = alpha
        if raw is not None:
            out_ring.view(slot, "raw", (h, w, 3))[...] = raw
            out_ring.view(slot, "hole", (h, w))[...] = hole
        queues.ready_out.put(WriteRequest(index, slot, size, raw is not None, alpha is not None))

    def flush(key: tuple[int, int]) -> None:
        items = pending.pop(key)
        # Views into the ring, not copies: infer() stacks them into its batch anyway, and the
        # slots go back to the readers only once the batch is done with them.
        samples = []
        for item in items:
            h, w = item.size
            planes = {
                name: in_ring.view(item.slot, name, shape)
                for name, shape in inpainter.preparer.plane_shapes(h, w).items()
            }
            rgb8, hole = in_ring.view(item.slot, "rgb8", (h, w, 3)), in_ring.view(item.slot, "hole", (h, w))
            samples.append(inpainter.preparer.rebuild(rgb8, hole, planes))
        t0 = time.perf_counter()
        outputs = inpainter.infer(samples)
        stats.engine_busy_s += time.perf_counter() - t0
        for item, sample, out in zip(items, samples, outputs, strict=True):
            alpha = in_ring.view(item.slot, "alpha", item.size) if item.has_alpha else None
            emit(item.job, item.size, sample.rgb8, alpha, out, sample.hole)
        del samples
        for item in items:
            queues.free_in.put(item.slot)

    def collect(block: bool) -> bool:
        """Record one writer outcome; False when none came (within ``POLL`` seconds when blocking)."""
        try:
            written = queues.results.get(timeout=POLL) if block else queues.results.get_nowait()
        except queue.Empty:
            return False
        state.record(written.job, written.error)
        return True

    while state.finished < total:
        while collect(block=False):  # writer outcomes, without waiting
            pass
        if received < len(routes.ring):
            t0 = time.perf_counter()
            try:
                item = queues.ready_in.get(timeout=POLL)
                stats.wait_input_s += time.perf_counter() - t0
                if received == 0:
                    stats.startup_s = time.perf_counter() - t_start
            except queue.Empty:
                stats.wait_input_s += time.perf_counter() - t0
                _check_alive(procs)
                for key in list(pending):  # nothing new: run partial batches rather than wait
                    flush(key)
                if direct:  # readers are busy: run a direct job meanwhile
                    state.run_direct(direct.pop(0))
                continue
            received += 1
            if isinstance(item, ReadFailed):
                state.record(item.job, item.reason)
                continue
            state.summary.warnings.extend((state.jobs[item.job].relative, w) for w in item.warnings)
            if isinstance(item, Unchanged):
                h, w = item.size
                alpha = in_ring.view(item.slot, "alpha", (h, w)) if item.has_alpha else None
                emit(item.job, item.size, in_ring.view(item.slot, "rgb8", (h, w, 3)), alpha)
                queues.free_in.put(item.slot)
                continue
            pending.setdefault(item.batch_key, []).append(item)
            if len(pending[item.batch_key]) >= batch_size:
                flush(item.batch_key)
        else:
            for key in list(pending):
                flush(key)
            if direct:
                state.run_direct(direct.pop(0))
            elif not collect(block=True):
                _check_alive(procs)


def _get(q: Any, procs: list[Any]) -> int:
    while True:
        try:
            return int(q.get(timeout=POLL))
        except queue.Empty:
            _check_alive(procs)


def _check_alive(procs: list[Any]) -> None:
    for p in procs:
        if p.exitcode not in (None, 0):
            raise EdgeInpaintError(f"a pipeline worker (pid {p.pid}) died with exit code {p.exitcode}; run aborted")
