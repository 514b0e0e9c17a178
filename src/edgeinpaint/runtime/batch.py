"""``edgeinpaint run`` as one library call: a frozen run configuration in, a summary out.

The CLI builds a :class:`RunConfig` from its options and calls :func:`run_batch`; nothing else
decides which files are read, where outputs go, or which execution path runs them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgeinpaint.core.atomic import new_run_tag, remove_stale_temps, write_text
from edgeinpaint.core.errors import EdgeInpaintError, InputError
from edgeinpaint.core.jobs import Job, JobPlan, is_uri, plan_run
from edgeinpaint.runtime.inpainter import Settings
from edgeinpaint.runtime.pipeline import RunSummary, WriteOptions, run_jobs
from edgeinpaint.runtime.workers import DEFAULT_MAX_MEMORY, PipelineStats, run_pipeline

#: ``in_process=None`` runs jobs of up to this many images in this process: starting the readers
#: and writers (spawned interpreters importing numpy, ONNX Runtime, OpenCV) takes ~1-2 s on 2 cores,
#: more than the pipeline saves on a few images (measured with the demo weights, 256² PNGs:
#: in-process 1.3-1.6 s vs pipeline 2.2-2.3 s for 8 images, 2.7-3.5 s vs 4.3-4.7 s for 16).
IN_PROCESS_UP_TO = 16


@dataclass(frozen=True)
class RunConfig:
    """Everything one batch run needs, built once.

    Attributes:
        input: image file or folder. mask: mask file or folder, or None for ``--mask alpha``.
        output: output folder (never an input or mask folder). output_suffix: forced format.
            The Ray executor (executors/ray_data.py) also takes URIs (``s3://bucket/prefix``)
            for these three, and ``pairs``: a CSV/Parquet file of (image, mask, output) rows
            instead of a listing (``input`` None then).
        model: the model and how pictures are made (runtime/inpainter.py; ``api.settings`` builds it).
        write: output options.
        in_process: run in this process instead of the shared-memory pipeline; None chooses by
            job count (:data:`IN_PROCESS_UP_TO`).
        workers / batch_size: pipeline readers and engine batch. max_memory: ring cap (bytes).
    """

    input: Path | str | None
    mask: Path | str | None
    output: Path | str
    model: Settings = field(default_factory=Settings)
    write: WriteOptions = field(default_factory=WriteOptions)
    output_suffix: str | None = None
    in_process: bool | None = False
    workers: int = 2
    batch_size: int = 1
    max_memory: int = DEFAULT_MAX_MEMORY
    pairs: str | None = None


@dataclass
class RunEvents:
    """Callbacks for progress reporting (all optional).

    Attributes:
        started: (number of jobs, one-line description of the execution path).
        done: after each job: (its relative name, its error or None). message: informational lines.
    """

    started: Callable[[int, str], None] | None = None
    done: Callable[[str, str | None], None] | None = None
    message: Callable[[str], None] | None = None


@dataclass
class RunOutcome:
    """What a run did: the per-file summary, the plan it followed (local runs) and the pipeline's figures."""

    summary: RunSummary
    plan: JobPlan | None
    mode: str
    stats: PipelineStats | None = None


def run_batch(config: RunConfig, events: RunEvents | None = None) -> RunOutcome:
    """Plan (refusing unsafe outputs before any work), open the engines and inpaint every job.

    Raises:
        EdgeInpaintError: a problem with the options or model that no file can work around.
            Per-file problems never raise: they are in the summary.
    """
    events = events or RunEvents()
    given = [("--input", config.input), ("--mask", config.mask), ("--output", config.output)]
    for option, value in given:
        if value is not None and is_uri(value):
            raise EdgeInpaintError(f"{option} {value}: storage URIs need --executor ray; a local run takes paths")
    if config.pairs is not None or config.input is None:
        raise EdgeInpaintError("--pairs needs --executor ray; a local run takes --input, --mask and --output")
    plan = plan_run(
        Path(config.input),
        None if config.mask is None else Path(config.mask),
        Path(config.output),
        config.output_suffix,
    )
    if plan.mask_hint is not None and all(job.mask is None for job in plan.jobs):
        # Not one image has a mask: say so before opening any engine, with what the mask folder holds.
        stems = ", ".join(repr(Path(j.relative).stem) for j in plan.jobs[:3])
        raise InputError(f"{config.mask}: no mask pairs with any image (stems {stems}, ...); {plan.mask_hint}")
    on_done = None if events.done is None else _by_name(events.done)
    remove_stale_temps({job.output.parent for job in plan.jobs})  # temps of runs killed with -9
    write = dataclasses.replace(config.write, tag=config.write.tag or new_run_tag())
    # Resume: existing outputs are set aside before the run, so progress and rates count real work.
    existing = [j for j in plan.jobs if write.skip_existing and j.output.exists()]
    set_aside = set(existing)
    todo = [j for j in plan.jobs if j not in set_aside]
    write = dataclasses.replace(write, skip_existing=False)  # decided above, once
    with config.model.open(events.message) as inpainter:
        backend = f"{inpainter.generators.backend.value} {config.model.engine.precision.value}"
        in_process = config.in_process if config.in_process is not None else len(todo) <= IN_PROCESS_UP_TO
        if in_process:
            mode = f"{backend}, in-process" + (" (a small job)" if config.in_process is None else "")
            if events.started:
                events.started(len(todo), mode)
            summary = run_jobs(inpainter, todo, config.model.load, write, on_done=on_done)
            stats = None
        else:
            mode = f"{backend}, {config.workers} reader(s), batch {config.batch_size}"
            if events.started:
                events.started(len(todo), mode)
            stats = PipelineStats()
            summary = run_pipeline(
                inpainter,
                todo,
                workers=config.workers,
                batch_size=config.batch_size,
                load=config.model.load,
                write=write,
                on_done=on_done,
                stats=stats,
                max_memory=config.max_memory,
            )
    summary.skipped[:0] = [j.relative for j in existing]
    summary.skipped.extend(f"{rel} (hidden)" for rel in plan.hidden)
    summary.skipped.extend(f"{rel} (not a supported image format)" for rel in plan.unsupported)
    if plan.mask_hint is not None:
        summary.warnings.append(("", f"images without a mask: {plan.mask_hint}"))
    summary.skipped.extend(f"{rel} (inside the output folder)" for rel in plan.excluded)
    return RunOutcome(summary, plan, mode, stats)


def _by_name(done: Callable[[str, str | None], None]) -> Callable[[Job, str | None], None]:
    return lambda job, error: done(job.relative, error)


def write_report(summary: RunSummary, path: Path, settings: dict[str, object] | None = None) -> None:
    """The JSON report, written atomically (a full disk leaves no 0-byte report).

    Args:
        settings: how the pictures were made (preset and picture options), recorded under ``settings``.

    Raises:
        OSError: the report could not be written (the caller reports it; outputs are unaffected).
    """
    data = summary.to_json()
    if settings is not None:
        data = {**data, "settings": settings}
    write_text(path, json.dumps(data, indent=2))
