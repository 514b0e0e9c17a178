"""Single-process batch inpainting: the reference semantics of ``edgeinpaint run``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from edgeinpaint.core.errors import EdgeInpaintError, EngineFailure
from edgeinpaint.core.images import PNG_COMPRESSION, encode_image, restore_depth
from edgeinpaint.core.jobs import Job
from edgeinpaint.runtime.loading import LoadOptions, load_job
from edgeinpaint.runtime.recipe import Recipe


@dataclass
class RunSummary:
    """Outcome of a batch run.

    Attributes:
        done: relative paths written. skipped: relative paths not processed (existing outputs).
        failed: (relative path, one-line reason). warnings: (relative path, message).
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, object]:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": [{"file": f, "reason": r} for f, r in self.failed],
            "warnings": [{"file": f, "message": m} for f, m in self.warnings],
            "counts": {"done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed)},
        }


@dataclass(frozen=True)
class WriteOptions:
    """How outputs are written.

    Attributes:
        quality: JPEG/WebP quality. skip_existing: leave existing outputs (decided once, by run_batch
            and the Ray executor's read stage, before any job reaches an engine).
        png_compression: zlib level for PNG outputs (same pixels at every level).
    """

    quality: int = 95
    skip_existing: bool = False
    png_compression: int = PNG_COMPRESSION
    tag: str | None = None


def inpaint_file(inpainter: Recipe, job: Job, load: LoadOptions, write: WriteOptions) -> list[str]:
    """Load, inpaint and write one job in this process; returns its warnings.

    Raises:
        EdgeInpaintError, OSError, MemoryError: the job failed (see :func:`describe_failure`).
    """
    loaded = load_job(job, load)
    painted = inpainter(loaded.decoded.rgb, loaded.hole)
    pixels = restore_depth(painted, loaded.hole, loaded.decoded.rgb)
    encode_image(
        pixels,
        job.output,
        quality=write.quality,
        alpha=loaded.alpha,
        png_compression=write.png_compression,
        tag=write.tag,
    )
    return loaded.warnings


class NamedFiles(Protocol):
    """What a failure message names: the input image and the output (a :class:`Job`, a cluster row)."""

    @property
    def image(self) -> Path | str: ...

    @property
    def output(self) -> Path | str: ...


def describe_failure(job: NamedFiles, exc: Exception) -> str:
    """One line for a failed job; re-raises what is a bug of the engine, not of the file.

    Raises:
        EngineFailure: a CUDA / engine-execution failure (shown with its traceback by the CLI).
    """
    if isinstance(exc, EngineFailure):
        raise exc
    if isinstance(exc, EdgeInpaintError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{job.output}: cannot write output ({exc.strerror or exc})"
    if isinstance(exc, MemoryError):
        return f"{job.image}: out of memory inpainting this image"
    return f"{job.image}: unexpected {type(exc).__name__}: {exc}"


def run_jobs(
    inpainter: Recipe,
    jobs: list[Job],
    load: LoadOptions | None = None,
    write: WriteOptions | None = None,
    on_done: Callable[[Job, str | None], None] | None = None,
) -> RunSummary:
    """Inpaint every job in this process; a bad file is reported and the rest still completes.

    Outputs are written atomically, so a failure never leaves a partial file.

    Args:
        on_done: called after each job with the error message or None (progress reporting).
    """
    load = load or LoadOptions()
    write = write or WriteOptions()
    summary = RunSummary()
    for job in jobs:  # existing outputs were set aside by run_batch (--skip-existing), never here
        error: str | None = None
        try:
            summary.warnings.extend((job.relative, w) for w in inpaint_file(inpainter, job, load, write))
            summary.done.append(job.relative)
        except Exception as exc:  # every file is reported, none aborts the run (engine failures re-raise)
            error = describe_failure(job, exc)
            summary.failed.append((job.relative, error))
        if on_done:
            on_done(job, error)
    return summary
