"""``edgeinpaint run --executor ray``: the same run on Ray Data, past one machine.

Shape (Ray Data's streaming executor, docs.ray.io "Ray Data: Scalable Datasets for ML" and
"End-to-end: Offline Batch Inference"):

    pairs (driver) -> read + decode (tasks) -> inpaint (actor pool: engines opened once per actor)
                   -> encode + write (tasks) -> per-file results streamed back to the driver

Each stage runs the local run's own functions (runtime/loading.py's ``load_pair``, the
:class:`Recipe`, ``restore_depth``, ``encode_bytes``), so a file gives the same bytes on a
cluster as with ``edgeinpaint run``. Pixels travel between stages as ``.npy`` bytes: Ray Data
turns ndarray columns into tensor columns that need one shape and dtype per block, which photos of
different sizes, 16-bit inputs and absent alpha channels do not have.

Traps met and how they are avoided:

- Whole-CPU requests starve the read tasks on small nodes (ray-project/ray#44687: 2 actors x
  ``num_cpus=1`` on 2 CPUs hang forever): actors and tasks ask for fractions of a CPU by default.
- ``concurrency=`` is deprecated: the pool is ``compute=ActorPoolStrategy(size=n)``.
- A killed actor is restarted and its in-flight rows retried: Ray Data's actor pools default to
  ``max_restarts=-1`` and ``max_task_retries=-1`` (ray/data/_internal/execution/operators/
  actor_pool_map_operator.py); tasks are retried by Ray Core (``max_retries``, default 3). Outputs
  are written atomically (executors/storage.py), so a retry never leaves a partial object.
- Per-file errors are values, not exceptions: an exception in a UDF fails the whole Dataset.
- ``write_images`` cannot keep input names: the write stage is ours (by output URI, atomic).
- Memory: the streaming executor bounds the bytes queued between stages by the object store
  (``--ray-object-store-memory`` for a local cluster; on a cluster, Ray's own setting); a block
  here is a few images, never the dataset.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from edgeinpaint.core.atomic import remove_stale_temps
from edgeinpaint.core.errors import EdgeInpaintError, EngineFailure
from edgeinpaint.core.images import encode_bytes, output_format, restore_depth
from edgeinpaint.core.jobs import is_uri
from edgeinpaint.core.reaper import ray_session_dir, reap_on_death
from edgeinpaint.executors.plan import PairPlan, plan_pairs, read_pairs_file
from edgeinpaint.executors.storage import exists, place, read_bytes, write_atomic
from edgeinpaint.runtime.batch import RunConfig, RunEvents, RunOutcome
from edgeinpaint.runtime.inpainter import Settings
from edgeinpaint.runtime.loading import LoadOptions, load_pair
from edgeinpaint.runtime.pipeline import RunSummary, WriteOptions, describe_failure

#: Stage timers every result row carries (seconds), summed on the driver.
STAGES = ("read", "decode", "inpaint", "encode", "write")


@dataclass(frozen=True)
class RayOptions:
    """Where the run goes and what each worker asks Ray for.

    Attributes:
        address: an existing cluster ("auto", "ray://head:10001", "head:6379"); None joins
            ``RAY_ADDRESS`` if set, else starts a local Ray on this machine.
        actors: inpaint actors (each opens the engines once). actor_cpus / actor_gpus: each actor's
            request (fractional CPUs by default so a small node never deadlocks; on GPU nodes
            ``actor_gpus=1`` places one actor per GPU). task_cpus: each read/write task's request.
        object_store_memory: bytes for a local cluster's object store (None: Ray's default).
        rows_per_block: pairs per Ray Data block, i.e. per task and per actor call: fewer, larger
            blocks cost less scheduling per image; more, smaller ones spread better over actors.
    """

    address: str | None = None
    actors: int = 1
    actor_cpus: float = 0.5
    actor_gpus: float = 0.0
    task_cpus: float = 0.25
    object_store_memory: int | None = None
    rows_per_block: int = 4  # 200 photos, 2 cores: 0.69-0.74x the local run at 4, 0.57x at 1 (docs/performance.md)


def pack(array: np.ndarray | None) -> bytes:
    """An array as ``.npy`` bytes (b"" for None); the inverse is :func:`unpack`."""
    if array is None:
        return b""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def unpack(data: bytes) -> np.ndarray | None:
    """The array :func:`pack` wrote (pickles refused)."""
    return None if not data else np.load(io.BytesIO(data), allow_pickle=False)


def _result(row: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(row)
    out.update(changes)
    return out


def read_stage(row: dict[str, Any], load: LoadOptions, skip_existing: bool) -> dict[str, Any]:
    """Ray task: read the image and mask bytes and decode them (runtime/loading.py's rules)."""
    base = _result(row, status="", error="", warnings="[]", rgb=b"", hole=b"", alpha=b"", pixels=b"")
    base.update({f"{stage}_s": 0.0 for stage in STAGES})
    if skip_existing and exists(row["output"]):
        return _result(base, status="skipped")
    try:
        t0 = time.perf_counter()
        image_data = read_bytes(row["image"])
        mask_data = read_bytes(row["mask"]) if row["mask"] else None
        t1 = time.perf_counter()
        loaded = load_pair(row["image"], row["mask"] or None, load, image_data, mask_data)
        t2 = time.perf_counter()
    except Exception as exc:  # a bad file is a result, never a failed Dataset
        return _result(base, status="failed", error=describe_failure(_Files(row), exc))
    return _result(
        base,
        rgb=pack(loaded.decoded.rgb),
        hole=pack(loaded.hole),
        alpha=pack(loaded.alpha),
        warnings=json.dumps(loaded.warnings),
        read_s=t1 - t0,
        decode_s=t2 - t1,
    )


class InpaintActor:
    """Ray actor: the engines, opened once; inpaints the rows the read stage decoded."""

    def __init__(self, model: Settings) -> None:
        self.inpainter = model.open()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["status"]:
            return row
        rgb, hole = unpack(row["rgb"]), unpack(row["hole"])
        assert rgb is not None and hole is not None
        try:
            t0 = time.perf_counter()
            pixels = restore_depth(self.inpainter(rgb, hole), hole, rgb)
            spent = time.perf_counter() - t0
        except EngineFailure as exc:  # the engine is broken, not the file: stop the run (Ray raises it)
            raise EngineFailure(f"{row['image']}: {exc}") from exc
        except Exception as exc:
            return _result(row, status="failed", error=describe_failure(_Files(row), exc), rgb=b"", hole=b"")
        return _result(row, pixels=pack(pixels), rgb=b"", hole=b"", inpaint_s=spent)


def write_stage(row: dict[str, Any], write: WriteOptions) -> dict[str, Any]:
    """Ray task: encode in the output's format and write it atomically; returns the small result row."""
    out = {k: row[k] for k in ("index", "relative", "status", "error", "warnings")}
    out.update({f"{stage}_s": row[f"{stage}_s"] for stage in STAGES})
    if row["status"]:
        return out
    pixels = unpack(row["pixels"])
    assert pixels is not None
    try:
        t0 = time.perf_counter()
        # The format from the object's own name: the URI may end in the root's ?options.
        fmt = output_format(Path(PurePosixPath(place(row["output"]).path).name))
        data = encode_bytes(pixels, fmt, write.quality, unpack(row["alpha"]), write.png_compression)
        t1 = time.perf_counter()
        # Temps carry this worker's own tag (core/atomic.py's PROCESS_TAG): Ray runs many writer
        # processes, and a shared run tag would give two of them the same temp name.
        write_atomic(row["output"], data)
        t2 = time.perf_counter()
    except Exception as exc:
        return _result(out, status="failed", error=describe_failure(_Files(row), exc))
    return _result(out, status="done", encode_s=t1 - t0, write_s=t2 - t1)


@dataclass(frozen=True)
class _Files:
    """A row seen as the image/output pair :func:`describe_failure` names in its messages."""

    row: Mapping[str, Any]

    @property
    def image(self) -> str:
        return str(self.row["image"])

    @property
    def output(self) -> str:
        return str(self.row["output"])


@dataclass
class RayFigures:
    """Where a cluster run's time went.

    Attributes:
        startup_s: connecting to (or starting) Ray. wall_s: from the first row submitted to the
            last result. stages: seconds summed over files per stage (:data:`STAGES`).
    """

    startup_s: float = 0.0
    wall_s: float = 0.0
    stages: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def describe(self, done: int) -> str:
        """One line: images/s over the streaming part, start-up, and per-image time per stage."""
        rate = f"{done / self.wall_s:.2f} images/s" if self.wall_s > 0 and done else "no images"
        per = ", ".join(f"{k} {1000 * v / max(done, 1):.0f} ms" for k, v in self.stages.items())
        return f"ray: {rate} over {self.wall_s:.1f} s, start-up {self.startup_s:.1f} s; per image: {per}"


def plan_for(config: RunConfig) -> PairPlan:
    """The pairs of ``config``: from its pairs file, or listed from ``input``/``mask``/``output``."""
    if config.pairs is not None:
        return read_pairs_file(config.pairs, config.model.load.alpha_mask)
    if config.input is None:
        raise EdgeInpaintError("give --input (with --mask and --output) or --pairs")
    return plan_pairs(
        str(config.input),
        None if config.mask is None else str(config.mask),
        str(config.output),
        config.output_suffix,
    )


def _connect(options: RayOptions) -> bool:
    """Join or start Ray; True when this call started it (and so must shut it down)."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(
        address=options.address,
        object_store_memory=options.object_store_memory if options.address is None else None,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        # A cluster started here lives on loopback (Ray otherwise picks the interface that routes to
        # 8.8.8.8, and binds it, where there is one).
        _node_ip_address="127.0.0.1" if options.address is None else None,
    )
    # The cluster this run started ends with it, even if the run is killed with -9 (core/reaper.py); a
    # cluster joined (an address, RAY_ADDRESS) is never touched.
    if options.address is None and not os.environ.get("RAY_ADDRESS"):
        reap_on_death(ray_session_dir() or "")
    return True


def run_on_ray(
    config: RunConfig, options: RayOptions, events: RunEvents | None = None
) -> tuple[RunOutcome, RayFigures]:
    """Plan on the driver, check the model opens, then stream every pair through Ray Data.

    The model is opened once on the driver first, so a wrong option fails in seconds with the
    local run's message instead of inside every actor. ``source`` must be readable on every node
    (a shared path, or the bundled demo weights).

    Raises:
        EdgeInpaintError: options, model or plan problems (before any work). Per-file problems are
            in the summary; an engine failure inside an actor stops the run.
    """
    events = events or RunEvents()
    plan = plan_for(config)
    local_folders = {Path(p.output).parent for p in plan.pairs if not is_uri(p.output)}
    remove_stale_temps(local_folders)  # temps of runs killed with -9, as a local run does
    with config.model.open(events.message) as probe:
        backend = f"{probe.generators.backend.value} {config.model.engine.precision.value}"
    figures = RayFigures()
    t0 = time.perf_counter()
    started = _connect(options)
    try:
        import ray
        import ray.data
        from ray.data import ActorPoolStrategy

        figures.startup_s = time.perf_counter() - t0
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its per-run INFO/WARNING lines are ours to say
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours, on the driver (events), not Ray's as well
        context.print_on_execution_start = False
        cpus = ray.cluster_resources().get("CPU", 0)
        mode = f"ray, {options.actors} actor(s) x {backend} ({cpus:g} CPUs in the cluster)"
        if events.started:
            events.started(len(plan.pairs), mode)
        rows = [dataclasses.asdict(p) for p in plan.pairs]
        blocks = max(1, min(-(-len(rows) // options.rows_per_block), 10_000))
        items = ray.data.from_items(rows, override_num_blocks=blocks)
        # Ray's stubs type map()'s fn as a one-argument callable; fn_kwargs / constructor kwargs fill the rest.
        dataset = items.map(
            read_stage,  # type: ignore[arg-type]
            fn_kwargs={"load": config.model.load, "skip_existing": config.write.skip_existing},
            num_cpus=options.task_cpus,
        )
        dataset = dataset.map(
            InpaintActor,  # type: ignore[arg-type]
            fn_constructor_kwargs={"model": config.model},
            compute=ActorPoolStrategy(size=options.actors),
            num_cpus=options.actor_cpus,
            num_gpus=options.actor_gpus or None,
        )
        dataset = dataset.map(
            write_stage,  # type: ignore[arg-type]
            fn_kwargs={"write": config.write},
            num_cpus=options.task_cpus,
        )
        results: dict[int, dict[str, Any]] = {}
        t1 = time.perf_counter()
        for row in dataset.iter_rows():
            results[int(row["index"])] = row
            if events.done:
                events.done(str(row["relative"]), row["error"] or None)
        figures.wall_s = time.perf_counter() - t1
    finally:
        if started:
            import ray

            ray.shutdown()
    summary = _summary(plan, results, figures)
    return RunOutcome(summary, None, mode), figures


def _summary(plan: PairPlan, results: dict[int, dict[str, Any]], figures: RayFigures) -> RunSummary:
    """The local run's report, in the plan's order; a pair with no result is a failure, never silent."""
    summary = RunSummary()
    for pair in plan.pairs:
        row = results.get(pair.index)
        if row is None:
            summary.failed.append((pair.relative, f"{pair.image}: no result came back from the cluster"))
            continue
        for stage in STAGES:
            figures.stages[stage] += float(row[f"{stage}_s"])
        summary.warnings.extend((pair.relative, w) for w in json.loads(row["warnings"]))
        if row["status"] == "done":
            summary.done.append(pair.relative)
        elif row["status"] == "skipped":
            summary.skipped.append(pair.relative)
        else:
            summary.failed.append((pair.relative, str(row["error"])))
    summary.skipped.extend(f"{rel} (hidden)" for rel in plan.hidden)
    summary.skipped.extend(f"{rel} (inside the output folder)" for rel in plan.excluded)
    return summary


__all__ = ["STAGES", "InpaintActor", "RayFigures", "RayOptions", "plan_for", "run_on_ray"]
