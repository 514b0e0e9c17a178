"""``edgeinpaint export``: weights -> artifacts directory (ONNX files + manifest), incremental."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeinpaint.core import specs
from edgeinpaint.core.atomic import exclusive, write_text
from edgeinpaint.core.errors import ArtifactError, ExportError, require_torch
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.manifest import MANIFEST, Manifest, read_manifest, verify_file
from edgeinpaint.core.params import FusedRecipe
from edgeinpaint.core.specs import CANNY_GRAPHS, CannyGraph, CannyVariant
from edgeinpaint.core.tolerances import CANNY_FP32_F1_FLOOR
from edgeinpaint.export.config import ExportConfig
from edgeinpaint.export.produce import Built, ExportContext, produce
from edgeinpaint.export.trt_check import check_graph
from edgeinpaint.weights.format import Weights, load_weights

#: Bumped whenever the exported graphs change for the same weights and options, so incremental
#: re-export (and the `run --weights` cache) never reuses files from an older exporter.
EXPORTER_VERSION = 5


def default_cache_dir() -> Path:
    """Where ``run --weights`` keeps exports: $EDGEINPAINT_CACHE, else $XDG_CACHE_HOME/edgeinpaint."""
    if env := os.environ.get("EDGEINPAINT_CACHE"):
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edgeinpaint"


def weights_record(weights: Weights) -> dict[str, object]:
    return {
        "path": str(weights.path) if weights.path else None,
        "sha256": weights.sha256,
        "architecture": weights.architecture.to_json(),
        "canny": weights.canny.to_json(),
        "blend": weights.blend.value,
        "provenance": weights.provenance,
    }


def export_artifacts(config: ExportConfig, progress: Callable[[str], None] | None = None) -> Manifest:
    """Export both generators (FP32), the Canny graphs and the ladder into ``config.output``; write the manifest.

    Unchanged inputs (weights sha256 and options) reuse existing, intact files. The directory is
    locked while exporting, so concurrent exports into one directory (the cache) are safe.

    Returns:
        The written manifest.
    """
    require_torch()
    from edgeinpaint.export.ladder import export_ladder

    weights = load_weights(config.weights)
    output = Path(config.output)
    with exclusive(output):
        try:
            previous: Manifest | None = read_manifest(output)
        except ArtifactError:
            previous = None
        manifest = Manifest(weights=weights_record(weights))
        if previous is not None and previous.weights.get("sha256") == weights.sha256:
            manifest.files = list(previous.files)
        ctx = ExportContext(output, previous, manifest, weights.sha256, progress or (lambda _m: None))
        _export_generators(ctx, weights, config.opset)
        _export_canny(ctx, weights, config.opset)
        export_ladder(config, weights, ctx)
        manifest.write(output)
    return manifest


def _export_generators(ctx: ExportContext, weights: Weights, opset: int) -> None:
    from edgeinpaint.export.onnx import GRAPHS, export_generator

    for role, graph in GRAPHS.items():
        file = f"{role}.{specs.Precision.FP32.value}.onnx"

        def build(temps: dict[str, Path], role: str = role, file: str = file, graph: Any = graph) -> dict[str, Built]:
            ctx.progress(f"{file}: exporting")
            err = export_generator(weights.build(role), role, temps[file], opset=opset)
            check_graph(temps[file], file)  # TensorRT builds engines from it: its parser's rules first
            inputs, outputs = [s.to_json() for s in graph.inputs], [s.to_json() for s in graph.outputs]
            return {file: Built(role, "fp32", inputs, outputs, opset, {"max_abs_vs_torch": err})}

        produce(ctx, [file], {"opset": opset, "exporter": EXPORTER_VERSION}, build)


def _export_canny(ctx: ExportContext, weights: Weights, opset: int) -> None:
    """The Canny graphs (core/specs.py ``CANNY_GRAPHS``) with the weights' settings, checked against skimage.

    ``canny.onnx`` is the exact float64 graph (ONNX Runtime; must match skimage bit for bit);
    ``canny.fast.onnx`` the float32 graph with bit-parallel hysteresis (ONNX Runtime, ``--canny
    fast``); ``canny.fp32.onnx`` the float32 graph with MaxPool hysteresis for TensorRT, which has
    no float64 and no BitShift (onnx-tensorrt docs/operators.md). Float32 ones: F1 >= 0.999.
    """
    from edgeinpaint.canny.graph import gaussian_kernel, save_canny_model
    from edgeinpaint.canny.parity import canny_parity

    for variant, graph in CANNY_GRAPHS.items():
        file_opset = max(opset, 18) if graph.hysteresis == "bits" else opset
        options: dict[str, object] = {
            "opset": file_opset,
            "hysteresis": graph.hysteresis,
            "exporter": EXPORTER_VERSION,
            **weights.canny.to_json(),
            "exact": graph.exact,
            # scipy's kernel values, exact in JSON, for hosts that reimplement the graph (hosts/cpp)
            "gaussian_kernel": [float(v) for v in gaussian_kernel(weights.canny.sigma)],
        }

        def build(
            temps: dict[str, Path], graph: CannyGraph = graph, file_opset: int = file_opset, for_trt: bool = False
        ) -> dict[str, Built]:
            ctx.progress(f"{graph.file}: exporting")
            tmp = temps[graph.file]
            c = weights.canny
            save_canny_model(tmp, c.sigma, c.low, c.high, exact=graph.exact, opset=opset, hysteresis=graph.hysteresis)
            if for_trt:
                check_graph(tmp, graph.file)
            mismatched, f1 = canny_parity(tmp, weights.canny)
            if (graph.exact and mismatched) or f1 < CANNY_FP32_F1_FLOOR:
                raise ExportError(
                    f"{graph.file}: the Canny graph differs from skimage on {mismatched} pixels of the check images "
                    f"(F1 {f1:.5f})"
                )
            gray_spec = {**specs.CANNY_INPUTS[0].to_json(), "dtype": "float64" if graph.exact else "float32"}
            accuracy = {"pixels_differing_from_skimage": mismatched, "f1_vs_skimage": round(f1, 6)}
            return {
                graph.file: Built(
                    "canny",
                    graph.tag,
                    [gray_spec, specs.CANNY_INPUTS[1].to_json()],
                    [s.to_json() for s in specs.CANNY_OUTPUTS],
                    file_opset,
                    accuracy,
                )
            }

        produce(ctx, [graph.file], options, functools.partial(build, for_trt=variant is CannyVariant.TENSORRT))


def cached_artifacts(
    weights_path: Path,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    fused: FusedRecipe | None = None,
) -> Path:
    """Export ``weights_path`` once into a cache directory keyed by its sha256 and return that directory.

    Args:
        fused: the edge source and rounding the fused model needs; a non-default one gets its own
            folder (``<sha>-raw-truncate-m0``), so runs with either never rebuild each other's files.
    """
    fused = fused or FusedRecipe()
    digest = sha256_file(weights_path) if Path(weights_path).is_file() else None
    if digest is None:
        load_weights(weights_path)  # raises the clear "not found" error
    name = str(digest)[:16]
    if not fused.is_default:
        name += f"-{fused.edge_source.value}-{fused.rounding.value}-m{fused.mask_threshold}"
    root = (cache_dir or default_cache_dir()) / "artifacts" / name
    stamp: dict[str, object] = {"exporter": EXPORTER_VERSION, "weights_sha256": digest}
    if _warm(root, stamp):  # opening a complete cache needs neither torch nor the exporter
        return root
    config = ExportConfig(weights=Path(weights_path), output=root, fused_recipe=fused)
    export_artifacts(config, progress=progress)
    write_text(root / CACHE_STAMP, json.dumps({**stamp, "manifest_sha256": sha256_file(root / MANIFEST)}))
    return root


#: Written into a cache folder after a complete export: which exporter made it from which weights, and
#: the manifest it wrote (so a later export into the folder invalidates the stamp).
CACHE_STAMP = ".edgeinpaint-cache.json"


def _warm(root: Path, stamp: dict[str, object]) -> bool:
    """True when ``root`` holds this exporter's complete export of these weights, every file intact."""
    try:
        recorded = json.loads((root / CACHE_STAMP).read_text())
        if recorded != {**stamp, "manifest_sha256": sha256_file(root / MANIFEST)}:
            return False
        manifest = read_manifest(root)
        for entry in manifest.files:
            verify_file(root, entry)
    except (OSError, ValueError, ArtifactError):
        return False
    return True
