"""Opening a recipe: where the networks come from, how they run, how a picture is made.

:func:`open_recipe` is the only way to get a :class:`~edgeinpaint.runtime.recipe.Recipe`: it
resolves the model (weights exported into the cache, or an artifacts directory), opens the
generators through the engine table and takes the Canny settings and composite from the artifacts'
manifest (or the weights), applying the caller's overrides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgeinpaint.canny.stage import CannySpec
from edgeinpaint.core import specs
from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.manifest import read_manifest, verify_file
from edgeinpaint.core.params import Blend, FusedRecipe, Rounding
from edgeinpaint.core.presets import PictureRecipe
from edgeinpaint.core.specs import CANNY_GRAPHS, Backend, CannyVariant, Precision
from edgeinpaint.runtime.engines import EngineRequest, open_engines
from edgeinpaint.runtime.hd import HDConfig
from edgeinpaint.runtime.loading import LoadOptions
from edgeinpaint.runtime.recipe import Finisher, Fused, OnDevice, Preparer, Recipe, ThreeStage


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
class Settings:
    """A model and how pictures are made with it, nothing opened yet (``api.settings`` builds one from a
    user's choices; ``run`` hands it to its workers and Ray actors, which open it in their processes).

    Attributes:
        source / engine / picture: :func:`open_recipe`'s arguments. load: how files become pixels and a
            hole (runtime/loading.py). recipe: the preset with the explicit options applied (for reports).
    """

    source: ModelSource = field(default_factory=ModelSource)
    engine: EngineOptions = field(default_factory=EngineOptions)
    picture: PictureOptions = field(default_factory=PictureOptions)
    load: LoadOptions = field(default_factory=LoadOptions)
    recipe: PictureRecipe = field(default_factory=PictureRecipe)

    def open(self, progress: Callable[[str], None] | None = None) -> Recipe:
        return open_recipe(self.source, self.engine, self.picture, progress)


def open_recipe(
    source: ModelSource,
    engine: EngineOptions | None = None,
    picture: PictureOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> Recipe:
    """Open the recipe for ``source``: its generators, Canny stage and composite.

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
    # torch-cuda runs the whole recipe on the device (OnDevice): Canny there too, so no host Canny stage.
    on_device = generators.backend is Backend.TORCH_CUDA and not engine.fused  # auto may pick it too
    preparer = Preparer(None if engine.fused or on_device else spec, engine.threads)
    finisher = Finisher(picture.blend or blend, picture.rounding)
    if on_device:
        return OnDevice(generators, preparer, finisher, picture.hd, picture.edge_source, canny=spec.params)
    if engine.fused:
        return Fused(generators, preparer, finisher, picture.hd, picture.edge_source, uint8_io=fused_uint8)
    return ThreeStage(generators, preparer, finisher, picture.hd, picture.edge_source)


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
