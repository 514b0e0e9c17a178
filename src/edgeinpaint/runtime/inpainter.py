"""The inpainter: both generators, the Canny stage and the serving options, opened once and never patched.

:func:`open_inpainter` is the only way to get one: it resolves the model (weights exported into
the cache, or an artifacts directory), opens the generators through the engine table and takes
the Canny settings and composite from the artifacts' manifest (or the weights), applying the
caller's overrides. Every path that makes a picture (in-process, the shared-memory pipeline,
benchmarks, servers) calls the same :class:`Inpainter` methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeinpaint.canny.stage import CannySpec, make_canny
from edgeinpaint.core import specs
from edgeinpaint.core.blend import blend as blend_into
from edgeinpaint.core.blend import finish_fused
from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.images import to_uint8
from edgeinpaint.core.manifest import read_manifest, verify_file
from edgeinpaint.core.params import Blend, FusedRecipe, Rounding
from edgeinpaint.core.specs import CANNY_GRAPHS, Backend, CannyVariant, Precision
from edgeinpaint.core.stages import CannyFn, Sample, as_uint8, crop_output, infer, preprocess
from edgeinpaint.runtime.engines import EngineRequest, Generators, open_engines
from edgeinpaint.runtime.hd import HDConfig, inpaint_hd


@dataclass(frozen=True)
class ModelSource:
    """Where the networks come from: a weights file (exported once into the cache) or an artifacts directory.

    Attributes:
        weights: weights file or bundled name ('demo'). artifacts: ``edgeinpaint export`` output.
    """

    weights: str | None = None
    artifacts: Path | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and self.artifacts is not None:
            raise EdgeInpaintError("give either --weights or --artifacts, not both")


@dataclass(frozen=True)
class EngineOptions:
    """How the generators run.

    Attributes:
        backend: engine table row (``auto`` = fastest that opens). precision: exported variant.
        threads: CPU threads (None = all cores). cuda_graph: native TensorRT graph replay.
        canny: Canny variant (core/specs.py); not used by the fused model, whose Canny is its
            own float32 graph. fused: run the fused single-file model (Canny, both generators and
            the composites in one graph: on a GPU one upload and one download per batch).
    """

    backend: Backend = Backend.ONNXRUNTIME
    precision: Precision = Precision.FP32
    threads: int | None = None
    cuda_graph: bool = False
    canny: CannyVariant = CannyVariant.FAST
    fused: bool = False


@dataclass(frozen=True)
class PictureOptions:
    """How a picture is made from the generators' output.

    Attributes:
        edge_source: composite (default, what the inpaint generator was trained on) or raw edges.
        hd: high-resolution strategy. blend: None = the weights' own composite.
        rounding: how the hole becomes 8 bits (round, or the official script's truncation).
    """

    edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE
    hd: HDConfig = field(default_factory=HDConfig)
    blend: Blend | None = None
    rounding: Rounding = Rounding.ROUND


@dataclass(frozen=True)
class Inpainter:
    """Both generators plus the Canny stage: inpaint one image (or a same-size batch).

    Attributes:
        generators: the two engines (and the backend that runs them).
        canny_spec: picklable Canny recipe (worker processes rebuild the stage from it).
        blend: the composite actually used (the weights' unless overridden).
        edge_source, hd, rounding: see :class:`PictureOptions`.
    """

    generators: Generators
    canny_spec: CannySpec
    blend: Blend
    edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE
    hd: HDConfig = field(default_factory=HDConfig)
    rounding: Rounding = Rounding.ROUND
    threads: int | None = None
    fused_uint8: bool = True
    canny: CannyFn = field(init=False, repr=False, compare=False)

    @property
    def fused(self) -> bool:
        """True when the fused model runs (readers then only decode: Canny is inside the graph)."""
        return self.generators.fused is not None

    def __post_init__(self) -> None:
        object.__setattr__(self, "canny", make_canny(self.canny_spec, self.threads))

    def __call__(self, pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Inpaint one image.

        Args:
            pixels: (H, W, 3) uint8 or uint16 RGB (the file's own values).
            hole: (H, W) bool, True = hole.

        Returns:
            (H, W, 3) uint8 composite (the input itself when nothing is a hole).
        """
        if not hole.any():
            return as_uint8(pixels)
        if self.hd.applies(*hole.shape):
            return inpaint_hd(self.whole, pixels, hole, self.hd)
        return self.whole(pixels, hole)

    def whole(self, pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Inpaint an image at its own size (no high-resolution strategy); (H, W, 3) uint8."""
        if self.fused:
            rgb8 = as_uint8(pixels)
            out, raw = self.fused_outputs([rgb8], [hole])[0]
            return finish_fused(out, raw, rgb8, hole, self.blend, self.rounding)
        return self.batch([preprocess(pixels, hole, self.canny)])[0]

    def batch(self, samples: list[Sample]) -> list[np.ndarray]:
        """Inpaint preprocessed samples of one padded size; (H, W, 3) uint8 each."""
        return [self.composite(s, r) for s, r in zip(samples, self.raw(samples), strict=True)]

    def composite(self, sample: Sample, raw: np.ndarray) -> np.ndarray:
        """The final picture from one raw output ((H, W, 3) float32, see :meth:`raw`)."""
        return blend_into(raw, sample.rgb8, sample.hole, self.blend, self.rounding)

    def raw(self, samples: list[Sample]) -> list[np.ndarray]:
        """The generators' outputs before compositing, (H, W, 3) float32 each (the pipeline's
        writers composite them, so a Poisson blend never holds up the engines).

        In fused mode only ``rgb8`` and ``hole`` of the samples are read (one size per call).
        """
        if self.fused:
            return [raw for _out, raw in self.fused_outputs([s.rgb8 for s in samples], [s.hole for s in samples])]
        edge, inpaint = self.generators.edge, self.generators.inpaint
        assert edge is not None and inpaint is not None
        outputs = infer(samples, edge, inpaint, self.edge_source)
        return [crop_output(s, o) for s, o in zip(samples, outputs, strict=True)]

    def fused_outputs(self, rgb8s: list[np.ndarray], holes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Run the fused model on same-size images: per image the paste picture (H, W, 3) uint8 and
        the raw output (H, W, 3) float32 in [0, 1] (for the Poisson composite)."""
        engine = self.generators.fused
        assert engine is not None
        if self.fused_uint8:
            image = np.stack(rgb8s)
            mask = (np.stack(holes) * np.uint8(255))[..., None]
            got = engine.run({"image": image, "mask": mask})
            outs = np.asarray(got["output"])
            raws = np.asarray(got["raw"]).astype(np.float32) / 255.0
        else:
            image = np.stack([r.transpose(2, 0, 1) for r in rgb8s]).astype(np.float32) / 255.0
            mask = np.stack(holes)[:, None].astype(np.float32)
            got = engine.run({"image": image, "mask": mask})
            outs = to_uint8(np.asarray(got["output"]).transpose(0, 2, 3, 1), self.rounding)
            raws = np.ascontiguousarray(np.asarray(got["raw"]).transpose(0, 2, 3, 1), dtype=np.float32)
        return [(outs[i], raws[i]) for i in range(len(rgb8s))]

    def close(self) -> None:
        self.generators.close()

    def __enter__(self) -> Inpainter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_inpainter(
    source: ModelSource,
    engine: EngineOptions | None = None,
    picture: PictureOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Inpainter:
    """Open the generators and the Canny stage for ``source``.

    The torch backend runs the weights file's PyTorch modules; every other backend runs the
    exported ONNX (a weights file is exported into the cache first, once).

    Raises:
        EdgeInpaintError: unknown weights, missing variant, unavailable backend (with the fix).
    """
    from edgeinpaint.weights.registry import resolve_weights

    engine = engine or EngineOptions()
    picture = picture or PictureOptions()
    from edgeinpaint.runtime.engines import TABLE

    weights_path = resolve_weights(source.weights) if source.weights is not None else None
    if source.weights is None and source.artifacts is None and progress is not None:
        progress(
            "no --weights or --artifacts: the bundled demo weights (a small model trained on a CPU, about "
            "OpenCV-Telea quality); official checkpoints: `edgeinpaint weights import`"
        )
    if engine.backend is not Backend.AUTO and TABLE[engine.backend].needs_weights:
        if weights_path is None:
            raise EdgeInpaintError(
                f"--backend {engine.backend.value} needs --weights (it runs the PyTorch modules, not ONNX)"
            )
        from edgeinpaint.weights.format import load_weights

        weights = load_weights(weights_path)
        request = EngineRequest(
            weights=weights_path, threads=engine.threads, precision=engine.precision, cuda_graph=engine.cuda_graph
        )
        if engine.fused:
            raise EdgeInpaintError(f"--fused runs the exported fused ONNX; --backend {engine.backend.value} cannot")
        generators = open_engines(engine.backend, request)
        spec = CannySpec(engine.canny, weights.canny)
        blend = weights.blend
        fused_uint8 = True
    else:
        artifacts = source.artifacts
        if artifacts is None:
            from edgeinpaint.export.artifacts import cached_artifacts

            fused_recipe = FusedRecipe(picture.edge_source, picture.rounding) if engine.fused else None
            artifacts = cached_artifacts(weights_path or resolve_weights("demo"), progress=progress, fused=fused_recipe)
        manifest = read_manifest(artifacts)
        request = EngineRequest(
            artifacts=artifacts,
            manifest=manifest,
            weights=weights_path,
            precision=engine.precision,
            threads=engine.threads,
            cuda_graph=engine.cuda_graph,
        )
        generators = open_engines(engine.backend, request, fused=engine.fused)
        fused_uint8 = True
        if engine.fused:
            fused_options = manifest.require("fused", engine.precision.value).options
            fused_uint8 = bool(fused_options.get("uint8_io", True))
            _check_fused_recipe(FusedRecipe.from_options(fused_options), picture, artifacts, fused_uint8)
        model = None
        if engine.canny is not CannyVariant.REFERENCE:
            model = verify_file(artifacts, manifest.require("canny", CANNY_GRAPHS[engine.canny].tag))
        spec = CannySpec(engine.canny, manifest.canny, model)
        blend = manifest.blend
    if progress is not None and engine.backend is Backend.AUTO:
        progress(generators.why)
    return Inpainter(
        generators=generators,
        canny_spec=spec,
        blend=picture.blend or blend,
        edge_source=picture.edge_source,
        hd=picture.hd,
        rounding=picture.rounding,
        threads=engine.threads,
        fused_uint8=fused_uint8,
    )


def _check_fused_recipe(recipe: FusedRecipe, picture: PictureOptions, artifacts: Path, uint8_io: bool) -> None:
    """Refuse, in one line, a fused model whose baked edge source or 8-bit rounding is not the one asked for.

    Both live inside the graph (the edge composite feeds the inpaint generator; the uint8 output is
    quantized by the graph), so a mismatch would silently give another picture.
    """
    wanted = FusedRecipe(picture.edge_source, picture.rounding)
    # The float-I/O fused model returns floats: the runtime quantizes them, so only the edges are baked.
    same = recipe.edge_source is wanted.edge_source and (recipe.rounding is wanted.rounding or not uint8_io)
    if not same:
        raise EdgeInpaintError(
            f"--fused: the fused model in {artifacts} was exported with edges {recipe.edge_source.value} and "
            f"{recipe.rounding.value} to 8 bits, but this run asks for edges {wanted.edge_source.value} and "
            f"{wanted.rounding.value}; export it with the same options (edgeinpaint export --edge-source "
            f"{wanted.edge_source.value} --to-8bit {wanted.rounding.value}, or --preset official) or drop --fused"
        )
