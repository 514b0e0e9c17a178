"""Single-process batch inpainting: the reference semantics of ``edgeinpaint run``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeinpaint import specs
from edgeinpaint.canny.stage import CannyBackend, CannyFn, GraphCanny, reference_canny
from edgeinpaint.errors import ArtifactError, EdgeInpaintError
from edgeinpaint.export.manifest import read_manifest, verify_file
from edgeinpaint.images import Decoded, decode_image, decode_mask, encode_image
from edgeinpaint.runtime.engines import Engine
from edgeinpaint.runtime.files import Job
from edgeinpaint.runtime.stages import check_mask, composite, infer, preprocess
from edgeinpaint.weights.format import CannyParams


@dataclass
class Inpainter:
    """Both generators plus the Canny stage: inpaint one image at a time (or a same-size batch).

    Attributes:
        edge: edge generator engine. inpaint: inpaint generator engine.
        canny: Canny stage. edge_source: composite (default) or raw edges for the inpaint generator.
    """

    edge: Engine
    inpaint: Engine
    canny: CannyFn
    edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE

    def __call__(self, decoded: Decoded, hole: np.ndarray) -> np.ndarray:
        """Inpaint one decoded image; returns (H, W, 3) uint8 (the input itself when nothing is a hole)."""
        if not hole.any():
            return decoded.rgb if decoded.rgb.dtype == np.uint8 else preprocess(decoded, hole, self.canny).rgb8
        sample = preprocess(decoded, hole, self.canny)
        return composite(sample, infer([sample], self.edge, self.inpaint, self.edge_source)[0])

    def close(self) -> None:
        self.edge.close()
        self.inpaint.close()


def open_onnxruntime(
    artifacts: Path,
    threads: int | None = None,
    precision: str = "fp32",
    canny: CannyBackend = CannyBackend.GRAPH,
) -> Inpainter:
    """Load an artifacts directory (sha256-verified) on ONNX Runtime CPU.

    Args:
        canny: ``graph`` runs the exported exact Canny graph (canny.onnx), ``reference`` skimage;
            both give identical edges (tests pin it).
    """
    from edgeinpaint.runtime.engines.onnxruntime import OnnxRuntimeEngine

    manifest = read_manifest(artifacts)
    engines = []
    for role in ("edge_generator", "inpaint_generator"):
        entry = manifest.find(role, precision)
        if entry is None:
            raise ArtifactError(
                f"{artifacts}: no {precision} {role} in the manifest; run `edgeinpaint export --precision {precision}`"
            )
        engines.append(OnnxRuntimeEngine(verify_file(artifacts, entry), threads=threads))
    params = CannyParams(**manifest.weights["canny"])
    canny_fn: CannyFn = reference_canny(params)
    if canny is CannyBackend.GRAPH:
        entry = manifest.find("canny", "fp64")
        if entry is None:
            raise ArtifactError(f"{artifacts}: no canny.onnx in the manifest; re-run `edgeinpaint export`")
        canny_fn = GraphCanny(verify_file(artifacts, entry), threads=threads)
    return Inpainter(edge=engines[0], inpaint=engines[1], canny=canny_fn)


def open_torch(
    weights_path: Path,
    threads: int | None = None,
    device: str = "cpu",
    canny: CannyBackend = CannyBackend.GRAPH,
) -> Inpainter:
    """Load a weights file into PyTorch modules (the reference backend)."""
    from edgeinpaint.errors import require_torch

    require_torch()
    from edgeinpaint.runtime.engines.torch import TorchEngine
    from edgeinpaint.weights.format import load_weights

    weights = load_weights(weights_path)
    edge = TorchEngine(
        weights.build("edge_generator"),
        tuple(s.name for s in specs.EDGE_GENERATOR_INPUTS),
        ("edges_pred",),
        device,
        threads,
    )
    inpaint = TorchEngine(
        weights.build("inpaint_generator"),
        tuple(s.name for s in specs.INPAINT_GENERATOR_INPUTS),
        ("inpainted",),
        device,
        threads,
    )
    if canny is CannyBackend.GRAPH:
        from edgeinpaint.canny.stage import graph_canny

        return Inpainter(edge=edge, inpaint=inpaint, canny=graph_canny(weights.canny, threads))
    return Inpainter(edge=edge, inpaint=inpaint, canny=reference_canny(weights.canny))


@dataclass
class RunSummary:
    """Outcome of a batch run.

    Attributes:
        done: relative paths written. skipped: relative paths not processed (e.g. existing outputs).
        failed: (relative path, one-line reason).
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_jobs(
    inpainter: Inpainter,
    jobs: list[Job],
    quality: int = 95,
    skip_existing: bool = False,
    on_done: Callable[[Job, str | None], None] | None = None,
) -> RunSummary:
    """Inpaint every job; a bad file is reported and the rest of the batch still completes.

    Outputs are written atomically, so a failure never leaves a partial file.

    Args:
        on_done: called after each job with the error message or None (progress reporting).
    """
    summary = RunSummary()
    for job in jobs:
        if skip_existing and job.output.exists():
            summary.skipped.append(job.relative)
            if on_done:
                on_done(job, None)
            continue
        error: str | None = None
        try:
            if job.mask is None:
                raise EdgeInpaintError(f"{job.image}: no mask with stem {job.image.stem!r} in the mask directory")
            decoded = decode_image(job.image)
            hole = decode_mask(job.mask)
            check_mask(decoded, hole, str(job.mask))
            encode_image(inpainter(decoded, hole), job.output, quality=quality)
            summary.done.append(job.relative)
        except EdgeInpaintError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"{job.output}: cannot write output ({exc.strerror or exc})"
        if error is not None:
            summary.failed.append((job.relative, error))
        if on_done:
            on_done(job, error)
    return summary
