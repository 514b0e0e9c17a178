"""The export ladder after FP32: FP16 / INT8 generators, the fused model, TensorRT engines.

Every variant is run on ONNX Runtime CPU and its accuracy against FP32 is measured on real images
(calibration images, else scikit-image's bundled photos) and recorded in the manifest; below the
floors in export.accuracy.FLOORS_DB the export fails and names the stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edgeinpaint import specs
from edgeinpaint.errors import ExportError
from edgeinpaint.export.manifest import ArtifactFile, Manifest, verify_file
from edgeinpaint.hashing import sha256_file
from edgeinpaint.runtime.engines import Engine
from edgeinpaint.weights.format import Weights

if TYPE_CHECKING:
    from edgeinpaint.export.artifacts import ExportConfig
    from edgeinpaint.runtime.stages import Sample

GENERATORS = ("edge_generator", "inpaint_generator")


def _engines(output: Path, manifest: Manifest, precision: str) -> dict[str, Engine]:
    from edgeinpaint.runtime.engines.onnxruntime import OnnxRuntimeEngine

    engines: dict[str, Engine] = {}
    for role in GENERATORS:
        entry = manifest.find(role, precision)
        assert entry is not None
        engines[role] = OnnxRuntimeEngine(verify_file(output, entry))
    return engines


def _samples(config: ExportConfig, weights: Weights) -> list[Sample]:
    from edgeinpaint.calibration.sources import CalibrationSource, builtin_samples
    from edgeinpaint.canny.stage import reference_canny

    canny = reference_canny(weights.canny)
    if config.calibration is None:
        return builtin_samples(canny)
    source = CalibrationSource(config.calibration, config.calibration_masks, config.calibration_size)
    return list(source.samples(canny))


def export_ladder(
    config: ExportConfig,
    weights: Weights,
    output: Path,
    previous: Manifest | None,
    manifest: Manifest,
    progress: Callable[[str], None],
) -> None:
    """Add the requested precision's generators, the fused model and (optionally) engines."""
    from edgeinpaint.export.artifacts import reusable

    precision = specs.Precision(config.precision).value
    samples: list[Sample] | None = None
    source_digest = "builtin"
    if config.calibration is not None:
        from edgeinpaint.calibration.sources import CalibrationSource

        source_digest = CalibrationSource(
            config.calibration, config.calibration_masks, config.calibration_size
        ).digest()

    if precision != "fp32":
        options: dict[str, object] = {"opset": config.opset, "precision": precision}
        if precision == "int8":
            if config.calibration is None:
                raise ExportError(
                    "INT8 export needs calibration images: pass --calibration DIR (and --calibration-masks DIR), "
                    "photos like the ones you will inpaint"
                )
            options.update({"calibration": source_digest, "method": config.calibration_method})
        files = {role: f"{role}.{precision}.onnx" for role in GENERATORS}
        entries = {role: reusable(output, previous, files[role], weights.sha256, options) for role in GENERATORS}
        if any(e is None for e in entries.values()):
            samples = samples or _samples(config, weights)
            _build_variant(config, precision, files, output, manifest, samples, weights, options, progress)
        else:
            for entry in entries.values():
                assert entry is not None
                manifest.put(entry)
            progress(f"{precision} generators: up to date")

    # Fused single-file model for this precision.
    fused_file = f"edgeinpaint.{precision}.onnx"
    fused_options: dict[str, object] = {
        "opset": config.opset,
        "uint8_io": config.fused_uint8,
        "generators": [manifest.find(r, precision).sha256 for r in GENERATORS],  # type: ignore[union-attr]
    }
    if (entry := reusable(output, previous, fused_file, weights.sha256, fused_options)) is not None:
        manifest.put(entry)
        progress(f"{fused_file}: up to date")
    else:
        samples = samples or _samples(config, weights)
        _build_fused(config, precision, fused_file, output, manifest, samples, weights, fused_options, progress)

    from edgeinpaint.export.tensorrt import tensorrt_available

    want_engine = config.engine if config.engine is not None else tensorrt_available()
    if want_engine:
        _build_engines(config, precision, output, manifest, progress)


def _build_variant(
    config: ExportConfig,
    precision: str,
    files: dict[str, str],
    output: Path,
    manifest: Manifest,
    samples: list[Sample],
    weights: Weights,
    options: dict[str, object],
    progress: Callable[[str], None],
) -> None:
    from edgeinpaint.export.accuracy import FLOORS_DB, measure
    from edgeinpaint.export.onnx import GRAPHS

    fp32 = _engines(output, manifest, "fp32")
    tmp = {role: output / f".{name}.tmp" for role, name in files.items()}
    tool = "onnxruntime.transformers.float16"
    try:
        if precision == "fp16":
            from edgeinpaint.export.precision import FP16_KEEP_FP32, to_fp16

            for role in GENERATORS:
                progress(f"{files[role]}: converting to FP16 (kept in FP32: {', '.join(FP16_KEEP_FP32)})")
                to_fp16(verify_file(output, manifest.find(role, "fp32")), tmp[role])  # type: ignore[arg-type]
            options = {**options, "keep_fp32": list(FP16_KEEP_FP32)}
        else:
            from edgeinpaint.calibration.qdq import quantize_int8
            from edgeinpaint.calibration.sources import edge_feeds, inpaint_feeds

            feeds = {
                "edge_generator": edge_feeds(samples),
                "inpaint_generator": inpaint_feeds(samples, fp32["edge_generator"]),
            }  # type: ignore[arg-type]
            cache_dir = output / "calibration"
            cache_dir.mkdir(exist_ok=True)
            for role in GENERATORS:
                progress(f"{files[role]}: calibrating on {len(samples)} images ({config.calibration_method})")
                cache = cache_dir / f"{role}.{options['calibration']}.{config.calibration_method}.json"
                tool = quantize_int8(
                    verify_file(output, manifest.find(role, "fp32")),  # type: ignore[arg-type]
                    tmp[role],
                    feeds[role],
                    config.calibration_method,
                    cache=cache,
                )
        from edgeinpaint.runtime.engines.onnxruntime import OnnxRuntimeEngine

        variant = {role: OnnxRuntimeEngine(tmp[role]) for role in GENERATORS}
        accuracy = measure(samples, fp32, variant)  # type: ignore[arg-type]
        floor = FLOORS_DB[precision]
        progress(f"{precision}: composited PSNR vs FP32 {accuracy.psnr:.2f} dB (floor {floor} dB)")
        if (stage := accuracy.failing_stage(floor)) is not None:
            raise ExportError(
                f"{precision} export below its accuracy floor: {accuracy.psnr:.2f} dB < {floor} dB vs FP32; "
                f"the {stage} loses the most ({accuracy.stage_psnr[stage]:.2f} dB alone)"
            )
        for role in GENERATORS:
            os.replace(tmp[role], output / files[role])
            graph = GRAPHS[role]
            manifest.put(
                ArtifactFile(
                    file=files[role],
                    role=role,
                    precision=precision,
                    inputs=[s.to_json() for s in graph.inputs],
                    outputs=[s.to_json() for s in graph.outputs],
                    opset=config.opset,
                    sha256=sha256_file(output / files[role]),
                    accuracy={**accuracy.to_json(), "samples": len(samples), "tool": tool},  # type: ignore[dict-item]
                    options=options,
                )
            )
    finally:
        for path in tmp.values():
            if path.exists():
                path.unlink()


def calibrate_only(
    config: ExportConfig, weights: Weights, output: Path, manifest: Manifest, progress: Callable[[str], None]
) -> list[Path]:
    """Compute (or reuse) the INT8 calibration caches of both generators without writing INT8 models.

    The caches are ONNX Runtime calibration JSON files keyed by data hash and method; a later
    ``export --precision int8`` with the same data finds them and skips calibration.
    """
    import tempfile

    from edgeinpaint.calibration.qdq import quantize_int8
    from edgeinpaint.calibration.sources import CalibrationSource, edge_feeds, inpaint_feeds

    if config.calibration is None:
        raise ExportError("calibrate needs --calibration DIR")
    source = CalibrationSource(config.calibration, config.calibration_masks, config.calibration_size)
    digest = source.digest()
    cache_dir = output / "calibration"
    cache_dir.mkdir(exist_ok=True)
    caches = {r: cache_dir / f"{r}.{digest}.{config.calibration_method}.json" for r in GENERATORS}
    missing = [r for r, c in caches.items() if not c.is_file()]
    if missing:
        samples = _samples(config, weights)
        fp32 = _engines(output, manifest, "fp32")
        feeds = {
            "edge_generator": edge_feeds(samples),
            "inpaint_generator": inpaint_feeds(samples, fp32["edge_generator"]),
        }
        with tempfile.TemporaryDirectory(dir=output) as tmp:
            for role in missing:
                progress(f"{role}: calibrating on {len(samples)} images ({config.calibration_method})")
                fp32_path = verify_file(output, manifest.find(role, "fp32"))  # type: ignore[arg-type]
                quantize_int8(
                    fp32_path, Path(tmp) / f"{role}.onnx", feeds[role], config.calibration_method, cache=caches[role]
                )
    else:
        progress("calibration caches: up to date")
    return list(caches.values())


def _build_fused(
    config: ExportConfig,
    precision: str,
    file: str,
    output: Path,
    manifest: Manifest,
    samples: list[Sample],
    weights: Weights,
    options: dict[str, object],
    progress: Callable[[str], None],
) -> None:
    import numpy as np
    import onnx
    import onnxruntime as ort

    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.export.fused import build_fused_model, fused_io_specs
    from edgeinpaint.runtime.stages import composite, infer

    progress(f"{file}: composing the fused model")
    model = build_fused_model(
        verify_file(output, manifest.find("edge_generator", precision)),  # type: ignore[arg-type]
        verify_file(output, manifest.find("inpaint_generator", precision)),  # type: ignore[arg-type]
        weights.canny,
        uint8_io=config.fused_uint8,
        opset=config.opset,
    )
    tmp = output / f".{file}.tmp"
    try:
        onnx.save(model, str(tmp))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        engines = _engines(output, manifest, precision)
        psnrs = []
        for s in samples:
            ref = composite(s, infer([s], engines["edge_generator"], engines["inpaint_generator"])[0])  # type: ignore[arg-type]
            if config.fused_uint8:
                out = session.run(
                    None, {"image": s.rgb8[None], "mask": (s.hole * 255).astype(np.uint8)[None, ..., None]}
                )[0][0]
            else:
                feeds = {
                    "image": (s.rgb8 / 255.0).astype(np.float32).transpose(2, 0, 1)[None],
                    "mask": s.hole[None, None].astype(np.float32),
                }
                out = np.clip(np.rint(session.run(None, feeds)[0][0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
            psnrs.append(psnr8(ref, out))
        psnr = float(np.mean(psnrs))
        progress(f"{file}: PSNR vs the three-stage run {psnr:.2f} dB")
        if psnr < 50.0:
            raise ExportError(f"{file}: fused model differs from the three-stage run ({psnr:.2f} dB < 50 dB)")
        os.replace(tmp, output / file)
    finally:
        if tmp.exists():
            tmp.unlink()
    inputs, outputs = fused_io_specs(config.fused_uint8)
    manifest.put(
        ArtifactFile(
            file=file,
            role="fused",
            precision=precision,
            inputs=inputs,
            outputs=outputs,
            opset=config.opset,
            sha256=sha256_file(output / file),
            accuracy={"psnr_vs_three_stage": round(psnr, 3), "samples": len(samples)},
            options=options,
        )
    )


def _build_engines(
    config: ExportConfig, precision: str, output: Path, manifest: Manifest, progress: Callable[[str], None]
) -> None:  # pragma: no cover - GPU only
    from edgeinpaint.export.tensorrt import (
        build_engine,
        current_device,
        engine_cache_key,
        engine_up_to_date,
        parse_shapes,
    )

    profile = parse_shapes(config.shapes)
    device = current_device()
    # The float32 Canny graph too: TensorRT has no float64 ("CUDA Canny").
    targets = [manifest.find("canny", "fp32"), *(manifest.find(r, precision) for r in (*GENERATORS, "fused"))]
    for entry in targets:
        assert entry is not None
        layout = "NHWC" if entry.role == "fused" and config.fused_uint8 else "NCHW"
        inputs = {str(i["name"]): (int(i["shape"][3 if layout == "NHWC" else 1]), layout) for i in entry.inputs}  # type: ignore[index]
        engine = output / entry.file.replace(".onnx", ".engine")
        key = engine_cache_key(
            entry.sha256, entry.precision, profile, config.workspace_gib, config.optimization_level, device
        )
        if engine_up_to_date(engine, key):  # same ONNX, options, TensorRT version and GPU
            progress(f"{engine.name}: up to date")
            continue
        progress(f"{engine.name}: building TensorRT engine")
        build_engine(
            output / entry.file,
            engine,
            inputs,
            entry.precision,
            profile,
            entry.sha256,
            config.workspace_gib,
            config.optimization_level,
            device,
        )
