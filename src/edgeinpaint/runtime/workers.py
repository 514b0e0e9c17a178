"""Shared-memory multi-process pipeline: readers -> engine (this process) -> writers.

Readers decode, validate and preprocess (gray, Canny, padding) into a bounded ring of input slots;
the engine process batches same-size samples through the generators and copies each raw output
(with the input pixels and hole) into an output slot; writers composite (paste or the Poisson
blend, which would otherwise hold up the engines), encode and write atomically. Slots circulate
through "free" queues, so a full ring blocks the producer (backpressure) and memory stays bounded. Processes start with
``spawn``; worker errors come back as text naming the file; every segment is unlinked on every
exit path (normal end, Ctrl-C, SIGTERM, a worker that dies).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeinpaint.canny.stage import CannySpec, make_canny
from edgeinpaint.errors import EdgeInpaintError
from edgeinpaint.images import Decoded, encode_image, pad_amounts
from edgeinpaint.runtime.files import Job
from edgeinpaint.runtime.loading import LoadOptions, load_job
from edgeinpaint.runtime.pipeline import Inpainter, RunSummary, WriteOptions
from edgeinpaint.runtime.shm import SlotLayout, SlotRing
from edgeinpaint.runtime.stages import Sample, preprocess

POLL = 0.05
#: Scheduling of reader/writer processes: "idle" (Linux SCHED_IDLE), "nice" (niceness 19) or
#: "normal". The engine process is the throughput limit; I/O workers should run in the cycles its
#: thread pool leaves idle and be preempted the moment an engine thread wakes, not share the
#: cores with it. Starvation cannot stall a run: when the ring drains, the engine blocks and the
#: workers get the cores.
WORKER_PRIORITY = os.environ.get("EDGEINPAINT_WORKER_PRIORITY", "idle")


@dataclass
class PipelineStats:
    """Where the engine process spent a run (seconds): computing, or waiting for readers / writers."""

    engine_busy_s: float = 0.0
    wait_input_s: float = 0.0
    wait_output_s: float = 0.0
    startup_s: float = 0.0


def input_layout(max_pixels: int, max_padded: int) -> SlotLayout:
    return SlotLayout(
        (
            ("rgb8", "uint8", 3 * max_pixels),
            ("hole", "bool", max_pixels),
            ("image", "float32", 3 * max_padded),
            ("gray", "float32", max_padded),
            ("edges", "float32", max_padded),
            ("mask", "float32", max_padded),
        )
    )


def output_layout(max_pixels: int) -> SlotLayout:
    # rgb8: the finished image, or the input when the writer composites (with raw and hole).
    return SlotLayout(
        (("rgb8", "uint8", 3 * max_pixels), ("raw", "float32", 3 * max_pixels), ("hole", "bool", max_pixels))
    )


def _quiet_worker() -> None:
    _lower_priority(WORKER_PRIORITY)
    # Ctrl-C reaches the whole process group: the engine process coordinates shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
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


def _remove_stale_temps(jobs: list[Job]) -> None:
    """Temp files of outputs whose writer was killed mid-write (SIGKILL cannot be caught)."""
    for folder in {job.output.parent for job in jobs}:
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp*"):
                with contextlib.suppress(OSError):
                    tmp.unlink()


def reader_main(
    jobs: list[Job],
    todo: Any,
    free: Any,
    ready: Any,
    ring_name: str,
    layout: SlotLayout,
    slots: int,
    load: LoadOptions,
    canny_spec: CannySpec,
    hd_trigger: int | None,
) -> None:
    """Decode + preprocess jobs into input slots; errors are sent as text."""
    _quiet_worker()
    ring = SlotRing(layout, slots, name=ring_name)
    canny = make_canny(canny_spec)
    try:
        while (index := todo.get()) is not None:
            job = jobs[index]
            try:
                loaded = load_job(job, load)
                decoded, hole = loaded.decoded, loaded.hole
                h, w = decoded.size
                raw = not hole.any() or (hd_trigger is not None and max(h, w) > hd_trigger)
                sample = None if raw else preprocess(decoded, hole, canny)
                slot = free.get()
                if sample is None:
                    rgb8 = decoded.rgb if decoded.rgb.dtype == np.uint8 else _to8(decoded)
                    ring.view(slot, "rgb8", (h, w, 3))[...] = rgb8
                    ring.view(slot, "hole", (h, w))[...] = hole
                    ready.put(("raw", index, slot, (h, w), loaded.warnings))
                else:
                    hp, wp = sample.padded_size
                    ring.view(slot, "rgb8", (h, w, 3))[...] = sample.rgb8
                    ring.view(slot, "hole", (h, w))[...] = sample.hole
                    for name, arr in (
                        ("image", sample.image),
                        ("gray", sample.gray),
                        ("edges", sample.edges),
                        ("mask", sample.mask),
                    ):
                        ring.view(slot, name, arr.shape)[...] = arr
                    ready.put(("sample", index, slot, (h, w, hp, wp), loaded.warnings))
            except EdgeInpaintError as exc:
                ready.put(("error", index, None, str(exc), []))
            except Exception as exc:  # a bug must not hang the pipeline: report it with the file
                ready.put(("error", index, None, f"{job.image}: unexpected {type(exc).__name__}: {exc}", []))
    finally:
        ring.close()


def _to8(decoded: Decoded) -> np.ndarray:
    from edgeinpaint.images import to_uint8

    return to_uint8(decoded.to_float())


def writer_main(
    jobs: list[Job],
    ready: Any,
    free: Any,
    results: Any,
    ring_name: str,
    layout: SlotLayout,
    slots: int,
    write: WriteOptions,
    blend_mode: str,
) -> None:
    """Composite (when asked) and encode output slots atomically; report each job's outcome."""
    from edgeinpaint.runtime.blend import blend

    _quiet_worker()
    ring = SlotRing(layout, slots, name=ring_name)
    try:
        while (item := ready.get()) is not None:
            kind, index, slot, (h, w) = item
            job = jobs[index]
            error = None
            try:
                pixels = np.array(ring.view(slot, "rgb8", (h, w, 3)))
                if kind == "composite":  # the raw output and the input: paste or Poisson here
                    raw = ring.view(slot, "raw", (h, w, 3))
                    pixels = blend(raw, pixels, ring.view(slot, "hole", (h, w)), blend_mode)
                encode_image(pixels, job.output, quality=write.quality, png_compression=write.png_compression)
            except EdgeInpaintError as exc:
                error = str(exc)
            except OSError as exc:
                error = f"{job.output}: cannot write output ({exc.strerror or exc})"
            except Exception as exc:  # a bug must not hang the pipeline: report it with the file
                error = f"{job.output}: unexpected {type(exc).__name__}: {exc}"
            free.put(slot)
            results.put((index, error))
    finally:
        ring.close()


def _sizes(jobs: list[Job]) -> tuple[int, int]:
    """Largest pixel count and padded pixel count over the readable images (headers only)."""
    from PIL import Image

    best, best_padded = 12 * 12, 16 * 16
    for job in jobs:
        try:
            with Image.open(job.image) as img:
                w, h = img.size
        except Exception:
            continue  # unreadable: the reader reports it
        ph, pw = pad_amounts(h, w)
        best, best_padded = max(best, h * w), max(best_padded, (h + ph) * (w + pw))
    return best, best_padded


class _TerminatedError(Exception):
    pass


def run_pipeline(
    inpainter: Inpainter,
    jobs: list[Job],
    workers: int = 2,
    batch_size: int = 1,
    slots: int | None = None,
    load: LoadOptions | None = None,
    write: WriteOptions | None = None,
    on_done: Callable[[Job, str | None], None] | None = None,
    stats: PipelineStats | None = None,
) -> RunSummary:
    """Run ``jobs`` through reader processes, this process's engines and writer processes.

    Args:
        workers: reader processes (writers: half as many, at least one).
        batch_size: samples of one padded size per engine call.
        slots: ring size (default: enough for two batches per reader).
        stats: filled with the engine process's busy / waiting times.
    """
    load = load or LoadOptions()
    write = write or WriteOptions()
    summary = RunSummary()
    todo_jobs = []
    for job in jobs:
        if write.skip_existing and job.output.exists():
            summary.skipped.append(job.relative)
            if on_done:
                on_done(job, None)
        else:
            todo_jobs.append(job)
    if not todo_jobs:
        return summary
    n_readers = max(1, workers)
    n_writers = max(1, workers // 2)
    n_slots = slots or max(4, 2 * batch_size + 2 * n_readers)
    max_pixels, max_padded = _sizes(todo_jobs)
    in_layout, out_layout = input_layout(max_pixels, max_padded), output_layout(max_pixels)
    ctx = mp.get_context("spawn")
    in_ring = SlotRing(in_layout, n_slots)
    out_ring = SlotRing(out_layout, n_slots)
    todo, free_in, ready_in = ctx.Queue(), ctx.Queue(), ctx.Queue()
    free_out, ready_out, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
    for i in range(n_slots):
        free_in.put(i)
        free_out.put(i)
    canny_spec = inpainter.canny_spec
    hd_trigger = inpainter.hd.trigger if inpainter.hd.strategy.value != "original" else None
    procs: list[Any] = []
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise _TerminatedError

    signal.signal(signal.SIGTERM, on_term)
    try:
        for _ in range(n_readers):
            procs.append(
                ctx.Process(
                    target=reader_main,
                    args=(
                        todo_jobs,
                        todo,
                        free_in,
                        ready_in,
                        in_ring.name,
                        in_layout,
                        n_slots,
                        load,
                        canny_spec,
                        hd_trigger,
                    ),
                    daemon=True,
                )
            )
        for _ in range(n_writers):
            procs.append(
                ctx.Process(
                    target=writer_main,
                    args=(
                        todo_jobs,
                        ready_out,
                        free_out,
                        results,
                        out_ring.name,
                        out_layout,
                        n_slots,
                        write,
                        inpainter.blend,
                    ),
                    daemon=True,
                )
            )
        for p in procs:
            p.start()
        for i in range(len(todo_jobs)):
            todo.put(i)
        for _ in range(n_readers):
            todo.put(None)
        _engine_loop(
            inpainter,
            todo_jobs,
            procs,
            ready_in,
            free_in,
            free_out,
            ready_out,
            results,
            in_ring,
            out_ring,
            batch_size,
            summary,
            on_done,
            stats if stats is not None else PipelineStats(),
        )
        for _ in range(n_writers):
            ready_out.put(None)
        for p in procs:
            p.join(timeout=10)
    except _TerminatedError:
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
        if any(p.exitcode not in (0, None) for p in procs):
            _remove_stale_temps(todo_jobs)
        for q in (todo, free_in, ready_in, free_out, ready_out, results):
            q.cancel_join_thread()
            q.close()
        in_ring.unlink()
        out_ring.unlink()
    return summary


def _engine_loop(
    inpainter: Inpainter,
    jobs: list[Job],
    procs: list[Any],
    ready_in: Any,
    free_in: Any,
    free_out: Any,
    ready_out: Any,
    results: Any,
    in_ring: SlotRing,
    out_ring: SlotRing,
    batch_size: int,
    summary: RunSummary,
    on_done: Callable[[Job, str | None], None] | None,
    stats: PipelineStats,
) -> None:
    t_start = time.perf_counter()
    total = len(jobs)
    received = 0  # items taken from readers (samples, raws, errors)
    finished = 0  # jobs whose outcome is known
    pending: dict[tuple[int, int], list[tuple[int, int, tuple[int, ...]]]] = {}

    def record(index: int, error: str | None) -> None:
        nonlocal finished
        job = jobs[index]
        if error is None:
            summary.done.append(job.relative)
        else:
            summary.failed.append((job.relative, error))
        finished += 1
        if on_done:
            on_done(job, error)

    def emit(index: int, rgb8: np.ndarray, raw: np.ndarray | None = None, hole: np.ndarray | None = None) -> None:
        """Hand an image to the writers: finished (``rgb8``), or raw output + input to composite."""
        t0 = time.perf_counter()
        slot = _get(free_out, procs)
        stats.wait_output_s += time.perf_counter() - t0
        h, w = rgb8.shape[:2]
        out_ring.view(slot, "rgb8", (h, w, 3))[...] = rgb8
        if raw is None:
            ready_out.put(("image", index, slot, (h, w)))
        else:
            out_ring.view(slot, "raw", (h, w, 3))[...] = raw
            out_ring.view(slot, "hole", (h, w))[...] = hole
            ready_out.put(("composite", index, slot, (h, w)))

    def flush(key: tuple[int, int]) -> None:
        items = pending.pop(key)
        # Views into the ring, not copies: infer() stacks them into its batch anyway, and the
        # slots go back to the readers only once the batch is done with them.
        samples = [
            Sample(
                rgb8=in_ring.view(slot, "rgb8", (h, w, 3)),
                hole=in_ring.view(slot, "hole", (h, w)),
                image=in_ring.view(slot, "image", (3, hp, wp)),
                gray=in_ring.view(slot, "gray", (1, hp, wp)),
                edges=in_ring.view(slot, "edges", (1, hp, wp)),
                mask=in_ring.view(slot, "mask", (1, hp, wp)),
            )
            for _index, slot, (h, w, hp, wp) in items
        ]
        t0 = time.perf_counter()
        outputs = inpainter.raw(samples)
        stats.engine_busy_s += time.perf_counter() - t0
        for (index, _, _), sample, out in zip(items, samples, outputs, strict=True):
            emit(index, sample.rgb8, out, sample.hole)
        del samples
        for _index, slot, _info in items:
            free_in.put(slot)

    while finished < total:
        while True:  # collect writer outcomes without blocking
            try:
                index, error = results.get_nowait()
            except queue.Empty:
                break
            record(index, error)
        if received < total:
            t0 = time.perf_counter()
            try:
                kind, index, slot, info, warnings = ready_in.get(timeout=POLL)
                stats.wait_input_s += time.perf_counter() - t0
                if received == 0:
                    stats.startup_s = time.perf_counter() - t_start
            except queue.Empty:
                stats.wait_input_s += time.perf_counter() - t0
                _check_alive(procs)
                for key in list(pending):  # nothing new: run partial batches rather than wait
                    flush(key)
                continue
            received += 1
            summary.warnings.extend((jobs[index].relative, w) for w in warnings)
            if kind == "error":
                record(index, str(info))
            elif kind == "raw":
                h, w = info
                rgb8 = np.array(in_ring.view(slot, "rgb8", (h, w, 3)))
                hole = np.array(in_ring.view(slot, "hole", (h, w)))
                free_in.put(slot)
                t0 = time.perf_counter()
                painted = inpainter(Decoded(rgb8, None, jobs[index].image), hole)
                stats.engine_busy_s += time.perf_counter() - t0
                emit(index, painted)
            else:
                key = (info[2], info[3])
                pending.setdefault(key, []).append((index, slot, info))
                if len(pending[key]) >= batch_size:
                    flush(key)
        else:
            for key in list(pending):
                flush(key)
            try:
                index, error = results.get(timeout=POLL)
                record(index, error)
            except queue.Empty:
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
