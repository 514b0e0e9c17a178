"""Single-process batch inpainting: the reference semantics of ``edgeinpaint run``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeinpaint import specs
from edgeinpaint.canny.stage import CannyBackend, CannyFn, CannySpec, make_canny
from edgeinpaint.errors import ArtifactError, EdgeInpaintError
from edgeinpaint.export.manifest import read_manifest, verify_file
from edgeinpaint.images import PNG_COMPRESSION, Decoded, encode_image, to_uint8
from edgeinpaint.runtime.blend import blend as blend_into
from edgeinpaint.runtime.engines import Engine
from edgeinpaint.runtime.files import Job
from edgeinpaint.runtime.hd import HDConfig, inpaint_hd
from edgeinpaint.runtime.loading import LoadOptions, load_job
from edgeinpaint.runtime.stages import Sample, crop_output, infer, preprocess
from edgeinpaint.weights.format import CannyParams


@dataclass
class Inpainter:
    """Both generators plus the Canny stage: inpaint one image (or a same-size batch).

    Attributes:
        edge: edge generator engine. inpaint: inpaint generator engine.
        canny: Canny stage. edge_source: composite (default) or raw edges for the inpaint generator.
        hd: high-resolution strategy for large images.
        blend: how the output is composited: "paste" (the paper) or "poisson"; the weights'
            recorded choice unless overridden.
    """

    edge: Engine
    inpaint: Engine
    canny: CannyFn
    edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE
    hd: HDConfig = field(default_factory=HDConfig)
    canny_spec: CannySpec | None = None
    blend: str = "paste"

    def __call__(self, decoded: Decoded, hole: np.ndarray) -> np.ndarray:
        """Inpaint one decoded image; returns (H, W, 3) uint8 (the input itself when nothing is a hole)."""
        rgb8 = decoded.rgb if decoded.rgb.dtype == np.uint8 else to_uint8(decoded.to_float())
        if not hole.any():
            return rgb8
        if self.hd.applies(*hole.shape):
            return inpaint_hd(self.whole, rgb8, hole, self.hd)
        return self.batch([preprocess(decoded, hole, self.canny)])[0]

    def whole(self, rgb8: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Inpaint an 8-bit image at its own size (no high-resolution strategy)."""
        return self.batch([preprocess(Decoded(rgb8, None, Path("<array>")), hole, self.canny)])[0]

    def batch(self, samples: list[Sample]) -> list[np.ndarray]:
        """Inpaint preprocessed samples of one padded size; (H, W, 3) uint8 each."""
        return [blend_into(r, s.rgb8, s.hole, self.blend) for s, r in zip(samples, self.raw(samples), strict=True)]

    def raw(self, samples: list[Sample]) -> list[np.ndarray]:
        """The generators' outputs before compositing, (H, W, 3) float32 each (the pipeline's
        writers composite them, so a Poisson blend never holds up the engines)."""
        outputs = infer(samples, self.edge, self.inpaint, self.edge_source)
        return [crop_output(s, o) for s, o in zip(samples, outputs, strict=True)]

    def close(self) -> None:
        self.edge.close()
        self.inpaint.close()


def open_onnxruntime(
    artifacts: Path,
    threads: int | None = None,
    precision: str = "fp32",
    canny: CannyBackend = CannyBackend.FAST,
    backend: specs.Backend = specs.Backend.ONNXRUNTIME,
    cuda_graph: bool = False,
) -> Inpainter:
    """Load an artifacts directory (sha256-verified) on ONNX Runtime (any provider) or native TensorRT.

    Args:
        canny: ``fast`` (default) runs the exported float32 Canny graph (canny.fast.onnx),
            ``exact`` the float64 one (canny.onnx), bit-identical with ``reference`` (skimage;
            tests pin it). Canny runs on the CPU (ONNX Runtime) for every backend; it is a few
            ms next to the generators and keeps the GPU free for them.
        cuda_graph: with the native TensorRT backend, replay CUDA graphs per input shape.
    """
    from edgeinpaint.runtime.engines.onnxruntime import OnnxRuntimeEngine

    manifest = read_manifest(artifacts)
    engines: list[Engine] = []
    for role in ("edge_generator", "inpaint_generator"):
        entry = manifest.find(role, precision)
        if entry is None:
            raise ArtifactError(
                f"{artifacts}: no {precision} {role} in the manifest; run `edgeinpaint export --precision {precision}`"
            )
        if backend is specs.Backend.TENSORRT:
            from edgeinpaint.runtime.engines.tensorrt import TensorRTEngine

            weights_path = manifest.weights.get("path")
            rebuild = (
                f"edgeinpaint export --weights {weights_path} --output {artifacts} --precision {precision} --engine"
            )
            verify_file(artifacts, entry)
            engine_path = artifacts / entry.file.replace(".onnx", ".engine")
            engines.append(TensorRTEngine(engine_path, entry.sha256, rebuild, cuda_graph=cuda_graph))
        else:
            from edgeinpaint.runtime.backends import ort_provider_options

            path = verify_file(artifacts, entry)
            engines.append(OnnxRuntimeEngine(path, providers=ort_provider_options(backend, artifacts), threads=threads))
    params = CannyParams(**manifest.weights["canny"])
    spec = CannySpec(canny, params)
    if canny is not CannyBackend.REFERENCE:
        tag = "fp64" if canny is CannyBackend.EXACT else "fast"
        entry = manifest.find("canny", tag)
        if entry is None:
            raise ArtifactError(f"{artifacts}: no {tag} Canny graph in the manifest; re-run `edgeinpaint export`")
        spec = CannySpec(canny, params, verify_file(artifacts, entry))
    return Inpainter(
        edge=engines[0],
        inpaint=engines[1],
        canny=make_canny(spec, threads),
        canny_spec=spec,
        blend=str(manifest.weights.get("blend", "paste")),
    )


def open_torch(
    weights_path: Path,
    threads: int | None = None,
    device: str = "cpu",
    canny: CannyBackend = CannyBackend.FAST,
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
    spec = CannySpec(canny, weights.canny)
    return Inpainter(edge=edge, inpaint=inpaint, canny=make_canny(spec, threads), canny_spec=spec, blend=weights.blend)


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
        quality: JPEG/WebP quality. skip_existing: leave existing outputs.
        png_compression: zlib level for PNG outputs (same pixels at every level).
    """

    quality: int = 95
    skip_existing: bool = False
    png_compression: int = PNG_COMPRESSION


def run_jobs(
    inpainter: Inpainter,
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
    for job in jobs:
        if write.skip_existing and job.output.exists():
            summary.skipped.append(job.relative)
            if on_done:
                on_done(job, None)
            continue
        error: str | None = None
        try:
            loaded = load_job(job, load)
            summary.warnings.extend((job.relative, w) for w in loaded.warnings)
            painted = inpainter(loaded.decoded, loaded.hole)
            encode_image(painted, job.output, quality=write.quality, png_compression=write.png_compression)
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
