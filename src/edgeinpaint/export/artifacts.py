"""``edgeinpaint export``: weights -> artifacts directory (ONNX files + manifest), incremental."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeinpaint import specs
from edgeinpaint.errors import ArtifactError, ExportError, require_torch
from edgeinpaint.export.manifest import ArtifactFile, Manifest, read_manifest, verify_file
from edgeinpaint.hashing import sha256_file
from edgeinpaint.weights.format import Weights, load_weights

#: Bumped whenever the exported graphs change for the same weights and options, so incremental
#: re-export (and the `run --weights` cache) never reuses files from an older exporter.
EXPORTER_VERSION = 3
#: The float32 Canny graph must agree with skimage to at least this F1 on the check images.
CANNY_FP32_F1_FLOOR = 0.999


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``edgeinpaint export``.

    Attributes:
        weights: weights file.
        output: artifacts directory.
        opset: ONNX opset.
        precision: fp32, fp16 or int8 (FP32 is always exported: it is the reference).
        calibration: image directory for INT8 calibration and accuracy checks.
        calibration_masks: mask directory paired with it (None = generated free-form masks).
        calibration_size: number of calibration images.
        calibration_method: entropy | minmax | percentile.
        fused_uint8: fused model with uint8 NHWC I/O (else float32 NCHW).
        engine: build TensorRT engines (None = when TensorRT and a GPU are present).
        shapes: TensorRT profile spec (see export.tensorrt.parse_shapes).
        workspace_gib: TensorRT workspace limit.
        optimization_level: TensorRT builder optimization level (0-5).
    """

    weights: Path
    output: Path
    opset: int = specs.OPSET
    precision: specs.Precision = specs.Precision.FP32
    calibration: Path | None = None
    calibration_masks: Path | None = None
    calibration_size: int = 32
    calibration_method: str = "percentile"
    fused_uint8: bool = True
    engine: bool | None = None
    shapes: str | None = None
    workspace_gib: float = 4.0
    optimization_level: int = 3


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
        "blend": weights.blend,
        "provenance": weights.provenance,
    }


def reusable(
    output: Path, manifest: Manifest | None, file: str, weights_sha: str | None, options: dict[str, object]
) -> ArtifactFile | None:
    """The existing entry when the same weights and options produced an intact file."""
    if manifest is None or manifest.weights.get("sha256") != weights_sha:
        return None
    for entry in manifest.files:
        if entry.file == file and entry.options == options:
            try:
                verify_file(output, entry)
            except ArtifactError:
                return None
            return entry
    return None


def export_artifacts(config: ExportConfig, progress: Callable[[str], None] | None = None) -> Manifest:
    """Export both generators (FP32) into ``config.output`` and write the manifest.

    Unchanged inputs (weights sha256 and options) reuse existing, intact files.

    Returns:
        The written manifest.
    """
    require_torch()
    from edgeinpaint.export.onnx import GRAPHS, export_generator

    weights = load_weights(config.weights)
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    try:
        previous: Manifest | None = read_manifest(output)
    except ArtifactError:
        previous = None
    manifest = Manifest(weights=weights_record(weights))
    if previous is not None and previous.weights.get("sha256") == weights.sha256:
        manifest.files = list(previous.files)
    for role, graph in GRAPHS.items():
        file = f"{role}.{specs.Precision.FP32.value}.onnx"
        options: dict[str, object] = {"opset": config.opset, "exporter": EXPORTER_VERSION}
        if (entry := reusable(output, previous, file, weights.sha256, options)) is not None:
            if progress:
                progress(f"{file}: up to date")
            manifest.put(entry)
            continue
        if progress:
            progress(f"{file}: exporting")
        err = export_generator(weights.build(role), role, output / file, opset=config.opset)
        manifest.put(
            ArtifactFile(
                file=file,
                role=role,
                precision=specs.Precision.FP32.value,
                inputs=[s.to_json() for s in graph.inputs],
                outputs=[s.to_json() for s in graph.outputs],
                opset=config.opset,
                sha256=sha256_file(output / file),
                accuracy={"max_abs_vs_torch": err},
                options=options,
            )
        )
    _export_canny(weights, output, previous, manifest, config.opset, progress)
    from edgeinpaint.export.ladder import export_ladder

    export_ladder(config, weights, output, previous, manifest, progress or (lambda _m: None))
    manifest.write(output)
    return manifest


def _export_canny(
    weights: Weights,
    output: Path,
    previous: Manifest | None,
    manifest: Manifest,
    opset: int,
    progress: Callable[[str], None] | None,
) -> None:
    """The Canny graphs with the weights' settings, checked against skimage.

    ``canny.onnx`` is the exact float64 graph (ONNX Runtime; must match skimage bit for bit);
    ``canny.fast.onnx`` the float32 graph with bit-parallel hysteresis (ONNX Runtime, ``--canny
    fast``); ``canny.fp32.onnx`` the float32 graph with MaxPool hysteresis for TensorRT, which has
    no float64 and no BitShift (onnx-tensorrt docs/operators.md). Float32 ones: F1 >= 0.999.
    """
    from edgeinpaint.canny.graph import gaussian_kernel, save_canny_model
    from edgeinpaint.canny.parity import canny_parity

    for file, exact, hysteresis, tag in (
        ("canny.onnx", True, "bits", "fp64"),
        ("canny.fast.onnx", False, "bits", "fast"),
        ("canny.fp32.onnx", False, "maxpool", "fp32"),
    ):
        file_opset = max(opset, 18) if hysteresis == "bits" else opset
        options: dict[str, object] = {
            "opset": file_opset,
            "hysteresis": hysteresis,
            "exporter": EXPORTER_VERSION,
            **weights.canny.to_json(),
            "exact": exact,
            # scipy's kernel values, exact in JSON, for hosts that reimplement the graph (hosts/cpp)
            "gaussian_kernel": [float(v) for v in gaussian_kernel(weights.canny.sigma)],
        }
        if (entry := reusable(output, previous, file, weights.sha256, options)) is not None:
            manifest.put(entry)
            continue
        if progress:
            progress(f"{file}: exporting")
        tmp = output / f".{file}.tmp"
        try:
            save_canny_model(
                tmp,
                weights.canny.sigma,
                weights.canny.low,
                weights.canny.high,
                exact=exact,
                opset=opset,
                hysteresis=hysteresis,
            )
            mismatched, f1 = canny_parity(tmp, weights.canny)
            if (exact and mismatched) or f1 < CANNY_FP32_F1_FLOOR:
                raise ExportError(
                    f"{file}: the Canny graph differs from skimage on {mismatched} pixels of the check images "
                    f"(F1 {f1:.5f})"
                )
            os.replace(tmp, output / file)
        finally:
            if tmp.exists():
                tmp.unlink()
        gray_spec = {**specs.CANNY_INPUTS[0].to_json(), "dtype": "float64" if exact else "float32"}
        manifest.put(
            ArtifactFile(
                file=file,
                role="canny",
                precision=tag,
                inputs=[gray_spec, specs.CANNY_INPUTS[1].to_json()],
                outputs=[s.to_json() for s in specs.CANNY_OUTPUTS],
                opset=file_opset,
                sha256=sha256_file(output / file),
                accuracy={"pixels_differing_from_skimage": mismatched, "f1_vs_skimage": round(f1, 6)},
                options=options,
            )
        )


def cached_artifacts(
    weights_path: Path, cache_dir: Path | None = None, progress: Callable[[str], None] | None = None
) -> Path:
    """Export ``weights_path`` once into a cache directory keyed by its sha256 and return that directory."""
    digest = sha256_file(weights_path) if Path(weights_path).is_file() else None
    if digest is None:
        load_weights(weights_path)  # raises the clear "not found" error
    root = (cache_dir or default_cache_dir()) / "artifacts" / str(digest)[:16]
    export_artifacts(ExportConfig(weights=Path(weights_path), output=root), progress=progress)
    return root
