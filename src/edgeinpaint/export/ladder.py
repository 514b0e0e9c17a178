"""The export ladder after FP32: FP16 / INT8 generators, the fused model, TensorRT engines.

Every variant is run on ONNX Runtime CPU and its accuracy against FP32 is measured on real images
(calibration images, else scikit-image's bundled photos) and recorded in the manifest; below the
floors in core.tolerances the export fails and names the stage.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import ExportError
from edgeinpaint.core.fused_io import fused_feeds, fused_output
from edgeinpaint.core.manifest import Manifest, verify_file
from edgeinpaint.core.onnxruntime import OnnxRuntimeEngine
from edgeinpaint.core.params import Rounding
from edgeinpaint.core.tolerances import FLOORS_DB, FUSED_MAX_LEVELS
from edgeinpaint.export.produce import Built, ExportContext, produce
from edgeinpaint.export.trt_check import check_graph
from edgeinpaint.weights.format import Weights

if TYPE_CHECKING:
    from edgeinpaint.core.stages import Sample
    from edgeinpaint.export.accuracy import VariantAccuracy
    from edgeinpaint.export.config import ExportConfig

GENERATORS = ("edge_generator", "inpaint_generator")


def _engines(output: Path, manifest: Manifest, precision: str) -> dict[str, Engine]:
    return {role: OnnxRuntimeEngine(verify_file(output, manifest.require(role, precision))) for role in GENERATORS}


def _samples(config: ExportConfig, weights: Weights) -> list[Sample]:
    from edgeinpaint.calibration.sources import CalibrationSource, builtin_samples
    from edgeinpaint.canny.stage import reference_canny

    canny = reference_canny(weights.canny)
    if config.calibration is None:
        return builtin_samples(canny)
    source = CalibrationSource(config.calibration, config.calibration_masks, config.calibration_size)
    return list(source.samples(canny))


class _Samples:
    """Accuracy-check samples, made once and only when something is built."""

    def __init__(self, config: ExportConfig, weights: Weights) -> None:
        self.config, self.weights = config, weights
        self._samples: list[Sample] | None = None

    def get(self) -> list[Sample]:
        if self._samples is None:
            self._samples = _samples(self.config, self.weights)
        return self._samples


@dataclass(frozen=True)
class _Job:
    """What a rung's converter gets: where to write, what to read, and the samples to calibrate on."""

    config: ExportConfig
    ctx: ExportContext
    files: dict[str, str]  # role -> the variant's file name
    tmp: dict[str, Path]  # role -> where to write it
    samples: list[Sample]
    fp32: dict[str, Engine]
    options: dict[str, object]


@dataclass(frozen=True)
class Rung:
    """One precision of the export ladder: what it builds, from what, and how it is checked.

    Attributes:
        precision: the ``--precision`` value; its floor is ``FLOORS_DB[precision]`` (fp32 has none).
        files: whose generator files the fused model and the engines are built from (bf16 is an
            inference precision of the FP32 files).
        convert: writes the variant's generators from the FP32 files and returns the tool used (None:
            nothing to build). Every converted file passes TensorRT's parser rules, then the floor on
            ONNX Runtime and, where installed, on OpenVINO.
        options: what identifies a build (reuse needs the same), from the export's options.
        check: a precision that builds nothing but is checked (bf16 on OpenVINO against FP32).
    """

    precision: str
    files: str
    convert: Callable[[_Job], str] | None = None
    options: Callable[[ExportConfig], dict[str, object]] = lambda _config: {}
    check: Callable[[ExportContext, list[Sample], Weights], None] | None = None


def _fp16_options(_config: ExportConfig) -> dict[str, object]:
    from edgeinpaint.export.precision import FP16_KEEP_FP32

    return {"keep_fp32": list(FP16_KEEP_FP32)}


def _to_fp16(job: _Job) -> str:
    from edgeinpaint.export.precision import FP16_KEEP_FP32, to_fp16

    for role in GENERATORS:
        job.ctx.progress(f"{job.files[role]}: converting to FP16 (kept in FP32: {', '.join(FP16_KEEP_FP32)})")
        to_fp16(verify_file(job.ctx.output, job.ctx.manifest.require(role, "fp32")), job.tmp[role])
    return "onnxruntime.transformers.float16"


def _int8_options(config: ExportConfig) -> dict[str, object]:
    if config.calibration is None:
        raise ExportError(
            "INT8 export needs calibration images: pass --calibration DIR (and --calibration-masks DIR), "
            "photos like the ones you will inpaint"
        )
    from edgeinpaint.calibration.sources import CalibrationSource

    digest = CalibrationSource(config.calibration, config.calibration_masks, config.calibration_size).digest()
    return {"calibration": digest, "method": config.calibration_method.value}


def _to_int8(job: _Job) -> str:
    from edgeinpaint.calibration.qdq import quantize_int8
    from edgeinpaint.calibration.sources import edge_feeds, inpaint_feeds

    method = job.config.calibration_method
    feeds = {
        "edge_generator": edge_feeds(job.samples),
        "inpaint_generator": inpaint_feeds(job.samples, job.fp32["edge_generator"]),
    }
    tool = ""
    for role in GENERATORS:
        job.ctx.progress(f"{job.files[role]}: calibrating on {len(job.samples)} images ({method.value})")
        cache = _calibration_cache(job.ctx.output, role, job.options)
        fp32 = verify_file(job.ctx.output, job.ctx.manifest.require(role, "fp32"))
        tool = quantize_int8(fp32, job.tmp[role], feeds[role], method, cache=cache)
    return tool


def _calibration_cache(output: Path, role: str, options: dict[str, object]) -> Path:
    """Where ``role``'s calibrated ranges are kept, keyed by the calibration data's hash and the method."""
    (output / "calibration").mkdir(exist_ok=True)
    return output / "calibration" / f"{role}.{options['calibration']}.{options['method']}.json"


#: The ladder: one row per ``--precision``.
LADDER = {
    rung.precision: rung
    for rung in (
        Rung("fp32", "fp32"),
        Rung("fp16", "fp16", _to_fp16, _fp16_options),
        Rung("int8", "int8", _to_int8, _int8_options),
        # BF16 is an inference precision of the FP32 graphs (OpenVINO on BF16 CPUs): measured, recorded on
        # the FP32 entries; the fused model and engines are the FP32 ones.
        Rung("bf16", "fp32", check=lambda ctx, samples, weights: _measure_bf16(ctx, samples, weights)),
    )
}


def export_ladder(config: ExportConfig, weights: Weights, ctx: ExportContext) -> None:
    """Add the requested precision's generators (its :data:`LADDER` row), the fused model and (optionally) engines."""
    rung = LADDER[specs.Precision(config.precision).value]
    samples = _Samples(config, weights)
    if rung.check is not None:
        rung.check(ctx, samples.get(), weights)
    if rung.convert is not None:
        options = {"opset": config.opset, "precision": rung.precision, **rung.options(config)}
        files = {role: f"{role}.{rung.precision}.onnx" for role in GENERATORS}
        produce(
            ctx,
            list(files.values()),
            options,
            lambda temps: _build_variant(rung, config, files, temps, ctx, samples.get(), weights, options),
            what=f"{rung.precision} generators",
        )
    precision = rung.files
    fused_file = f"edgeinpaint.{precision}.onnx"
    fused_options: dict[str, object] = {
        "opset": config.opset,
        "uint8_io": config.fused_uint8,
        "generators": [ctx.manifest.require(r, precision).sha256 for r in GENERATORS],
        "composite": "paste",
        **({} if config.fused_recipe.is_default else config.fused_recipe.to_options()),
    }
    produce(
        ctx,
        [fused_file],
        fused_options,
        lambda temps: _build_fused(config, precision, fused_file, temps[fused_file], ctx, samples.get(), weights),
    )

    from edgeinpaint.core.device import tensorrt_available

    want_engine = config.engine if config.engine is not None else tensorrt_available()
    if want_engine:
        _build_engines(config, precision, ctx.output, ctx.manifest, ctx.progress)


def _measure_bf16(ctx: ExportContext, samples: list[Sample], weights: Weights) -> None:
    """OpenVINO BF16 vs ONNX Runtime FP32, composited with the weights' blend; fails below the floor."""
    from edgeinpaint.core.cpu import has_bf16
    from edgeinpaint.export.accuracy import measure

    if importlib.util.find_spec("openvino") is None:
        raise ExportError("--precision bf16 runs on OpenVINO: pip install 'edgeinpaint[cpu]' (-e '.[cpu]' in a clone)")
    if not has_bf16():
        raise ExportError("--precision bf16 needs a CPU with native BF16 (AVX512_BF16 or AMX); this one has neither")
    from edgeinpaint.core.openvino import OpenVinoEngine

    fp32 = _engines(ctx.output, ctx.manifest, "fp32")
    entries = {role: ctx.manifest.require(role, "fp32") for role in GENERATORS}
    variant: dict[str, Engine] = {
        role: OpenVinoEngine(verify_file(ctx.output, e), specs.Precision.BF16) for role, e in entries.items()
    }
    accuracy = measure(samples, fp32, variant, weights.blend)
    _hold_floor(ctx, "bf16 (OpenVINO)", accuracy, "bf16")
    for entry in entries.values():
        entry.accuracy["bf16_openvino"] = {**accuracy.to_json(), "samples": len(samples)}  # type: ignore[assignment]


def _hold_floor(ctx: ExportContext, what: str, accuracy: VariantAccuracy, precision: str) -> None:
    """The one accuracy-floor check (core/tolerances.py ``FLOORS_DB``): a progress line, then an ExportError
    naming the stage that loses the most when the composited PSNR vs FP32 is below the floor."""
    floor = FLOORS_DB[precision]
    ctx.progress(f"{what}: composited PSNR vs FP32 {accuracy.psnr:.2f} dB (floor {floor} dB)")
    if (stage := accuracy.failing_stage(floor)) is not None:
        raise ExportError(
            f"{what} below its accuracy floor: {accuracy.psnr:.2f} dB < {floor} dB vs FP32; "
            f"the {stage} loses the most ({accuracy.stage_psnr[stage]:.2f} dB alone)"
        )


def _build_variant(
    rung: Rung,
    config: ExportConfig,
    files: dict[str, str],
    temps: dict[str, Path],
    ctx: ExportContext,
    samples: list[Sample],
    weights: Weights,
    options: dict[str, object],
) -> dict[str, Built]:
    """Convert (the rung's converter), then check: TensorRT's parser rules and the floor on each CPU backend."""
    from edgeinpaint.export.accuracy import measure
    from edgeinpaint.export.onnx import GRAPHS

    assert rung.convert is not None
    precision = rung.precision
    fp32 = _engines(ctx.output, ctx.manifest, "fp32")
    tmp = {role: temps[files[role]] for role in GENERATORS}
    tool = rung.convert(_Job(config, ctx, files, tmp, samples, fp32, options))
    for role in GENERATORS:  # TensorRT's parser rules before anything else sees the files
        check_graph(tmp[role], files[role])
    variant: dict[str, Engine] = {role: OnnxRuntimeEngine(tmp[role]) for role in GENERATORS}
    accuracy = measure(samples, fp32, variant, weights.blend)
    _hold_floor(ctx, precision, accuracy, precision)
    record: dict[str, object] = {**accuracy.to_json(), "samples": len(samples), "tool": tool}
    if importlib.util.find_spec("openvino") is not None:
        # The same file on OpenVINO (its INT8 kernels round differently): same floor, recorded beside.
        from edgeinpaint.core.openvino import OpenVinoEngine

        ov_variant: dict[str, Engine] = {
            role: OpenVinoEngine(tmp[role], specs.Precision(precision)) for role in GENERATORS
        }
        ov = measure(samples, fp32, ov_variant, weights.blend)
        _hold_floor(ctx, f"{precision} on OpenVINO", ov, precision)
        record["openvino"] = ov.to_json()
    return {
        files[role]: Built(
            role,
            precision,
            [s.to_json() for s in GRAPHS[role].inputs],
            [s.to_json() for s in GRAPHS[role].outputs],
            config.opset,
            record,
        )
        for role in GENERATORS
    }


def calibrate_only(
    config: ExportConfig, weights: Weights, output: Path, manifest: Manifest, progress: Callable[[str], None]
) -> list[Path]:
    """Compute (or reuse) the INT8 calibration caches of both generators without keeping INT8 models.

    The caches are ONNX Runtime calibration JSON files keyed by data hash and method; a later
    ``export --precision int8`` with the same data finds them and skips calibration.
    """
    import tempfile

    options = _int8_options(config)
    caches = [_calibration_cache(output, role, options) for role in GENERATORS]
    if all(c.is_file() for c in caches):
        progress("calibration caches: up to date")
        return caches
    ctx = ExportContext(output, None, manifest, None, progress)
    files = {role: f"{role}.int8.onnx" for role in GENERATORS}
    with tempfile.TemporaryDirectory(dir=output) as tmp:  # the INT8 models themselves are not kept
        temps = {role: Path(tmp) / name for role, name in files.items()}
        fp32 = _engines(output, manifest, "fp32")
        _to_int8(_Job(config, ctx, files, temps, _samples(config, weights), fp32, options))
    return caches


def fused_picture(
    session: object, sample: Sample, uint8_io: bool, blend: object, rounding: Rounding = Rounding.ROUND
) -> np.ndarray:
    """Run the fused model on one sample and finish the picture for the weights' blend (core/blend.py).

    Returns:
        (H, W, 3) uint8.
    """
    from edgeinpaint.core.blend import finish_fused

    names = ("output", "raw")
    outputs = session.run(None, fused_feeds([sample.rgb8], [sample.hole], uint8_io))  # type: ignore[attr-defined]
    got = dict(zip(names, outputs, strict=True))
    out, raw = (fused_output(got, name, uint8_io, rounding)[0] for name in names)
    return finish_fused(out, raw, sample.rgb8, sample.hole, blend, rounding)  # type: ignore[arg-type]


def _given(edges: np.ndarray, gray: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A Canny stand-in that returns edges computed elsewhere."""
    return edges


def _fused_front(front: object, rgb8: np.ndarray, hole: np.ndarray, uint8_io: bool) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 gray and (H, W) bool edges of the fused model's own front end."""
    gray, edges = front.run(None, fused_feeds([rgb8], [hole], uint8_io))  # type: ignore[attr-defined]
    return gray[0, 0], np.asarray(edges[0, 0] > 0.5)


class _EngineSession:
    """An Engine (OpenVINO) behind the ``session.run(None, feeds)`` call :func:`fused_picture` makes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, _names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        got = self.engine.run(feeds)
        return [np.asarray(got[name]) for name in self.engine.output_names]


def _fused_backends(path: Path, output: Path, manifest: Manifest, precision: str) -> dict[str, tuple[object, dict]]:
    """Every CPU backend ``run --fused`` (and ``auto``) may run the fused model on here: per backend the
    fused model (as an ORT-like session) and that backend's own two generators (the three-stage run)."""
    import onnxruntime as ort

    backends: dict[str, tuple[object, dict]] = {
        "onnxruntime": (
            ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]),
            _engines(output, manifest, precision),
        )
    }
    if importlib.util.find_spec("openvino") is not None:
        from edgeinpaint.core.openvino import OpenVinoEngine

        level = specs.Precision(precision)
        generators = {
            role: OpenVinoEngine(verify_file(output, manifest.require(role, precision)), level) for role in GENERATORS
        }
        backends["openvino"] = (_EngineSession(OpenVinoEngine(path, level)), generators)
    return backends


def _build_fused(
    config: ExportConfig,
    precision: str,
    file: str,
    tmp: Path,
    ctx: ExportContext,
    samples: list[Sample],
    weights: Weights,
) -> dict[str, Built]:
    """Compose the fused model and check it gives ``run``'s picture (the weights' blend) within one level,
    on every CPU backend that may run it (ONNX Runtime, and OpenVINO where installed)."""
    import onnx
    import onnxruntime as ort

    from edgeinpaint.core.stages import composite, infer
    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.export.fused import build_fused_canny, build_fused_model, fused_io_specs

    recipe = config.fused_recipe
    ctx.progress(f"{file}: composing the fused model")
    output, manifest = ctx.output, ctx.manifest
    model = build_fused_model(
        verify_file(output, manifest.require("edge_generator", precision)),
        verify_file(output, manifest.require("inpaint_generator", precision)),
        weights.canny,
        uint8_io=config.fused_uint8,
        opset=config.opset,
        recipe=recipe,
    )
    onnx.save(model, str(tmp))
    check_graph(tmp, file)
    backends = _fused_backends(tmp, output, manifest, precision)
    front = ort.InferenceSession(
        build_fused_canny(weights.canny, config.fused_uint8, config.opset, recipe.mask_threshold).SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    # `run`'s default Canny (float64 gray, float32 graph) for the figures against `run` itself.
    from edgeinpaint.canny.stage import GraphCanny
    from edgeinpaint.core.images import pad_amounts, pad_reflect
    from edgeinpaint.core.specs import CANNY_GRAPHS, CannyVariant
    from edgeinpaint.core.stages import preprocess

    def three_stage(sample: Sample, backend: str = "onnxruntime") -> np.ndarray:
        engines = backends[backend][1]
        raw = infer([sample], engines["edge_generator"], engines["inpaint_generator"], recipe.edge_source)[0]
        return composite(sample, raw, weights.blend, recipe.rounding)

    fast = GraphCanny(verify_file(output, manifest.require("canny", CANNY_GRAPHS[CannyVariant.FAST].tag)), threads=1)
    psnrs: dict[str, list[float]] = {name: [] for name in backends}
    worst = dict.fromkeys(backends, 0)
    worst_run, agree, total = 0, 0, 0
    for s in samples:
        gray, edges = _fused_front(front, s.rgb8, s.hole, config.fused_uint8)
        same_edges = preprocess(s.rgb8, s.hole, functools.partial(_given, edges))
        same_edges.gray = pad_reflect(gray[None], *pad_amounts(*gray.shape))
        for name, (session, _generators) in backends.items():
            # Each backend against its own three-stage run (INT8 kernels round differently per backend),
            # fed the edges of the fused front end on ONNX Runtime: a Canny pixel that flips inside the
            # fused graph on another backend shows here.
            ref = three_stage(same_edges, name)
            out = fused_picture(session, s, config.fused_uint8, weights.blend, recipe.rounding)
            psnrs[name].append(psnr8(ref, out))
            worst[name] = max(worst[name], int(np.abs(ref.astype(np.int16) - out).max()))
            if name == "onnxruntime":
                fused_ort = out
        as_run = preprocess(s.rgb8, s.hole, fast)
        worst_run = max(worst_run, int(np.abs(three_stage(as_run).astype(np.int16) - fused_ort).max()))
        run_edges = as_run.edges[0, : edges.shape[0], : edges.shape[1]] > 0.5
        agree += int((run_edges & edges).sum())
        total += int(run_edges.sum() + edges.sum())
    psnr = {name: float(np.mean(values)) for name, values in psnrs.items()}
    f1 = 2 * agree / total if total else 1.0
    figures = ", ".join(f"{name} PSNR {psnr[name]:.2f} dB, max {worst[name]} level(s)" for name in backends)
    ctx.progress(
        f"{file}: vs the three-stage run ({weights.blend.value}, {recipe.edge_source.value} edges): {figures}; "
        f"vs `run` (its float64-gray Canny, edge F1 {f1:.5f}): max {worst_run} level(s)"
    )
    if worst["onnxruntime"] > FUSED_MAX_LEVELS:
        raise ExportError(
            f"{file}: fused model differs from the three-stage run by up to {worst['onnxruntime']} levels "
            f"(> {FUSED_MAX_LEVELS}) with the {weights.blend.value} composite"
        )
    for name in backends:
        if worst[name] > FUSED_MAX_LEVELS:
            # Recorded, and the runtime refuses the fused model there (runtime/engines/openvino.py): the three
            # engines, or the fused model on ONNX Runtime, give the picture instead.
            ctx.progress(f"{file}: refused on {name} (max {worst[name]} levels > {FUSED_MAX_LEVELS}); run it elsewhere")
    inputs, outputs = fused_io_specs(config.fused_uint8, recipe)
    accuracy: dict[str, object] = {
        "psnr_vs_three_stage": round(psnr["onnxruntime"], 3),
        "max_levels_vs_three_stage": worst["onnxruntime"],
        "max_levels_vs_run": worst_run,
        "canny_f1_vs_run": round(f1, 6),
        "blend": weights.blend.value,
        "samples": len(samples),
    }
    for name in backends:
        if name != "onnxruntime":
            accuracy[f"max_levels_vs_three_stage_{name}"] = worst[name]
    return {file: Built("fused", precision, inputs, outputs, config.opset, accuracy)}


def _build_engines(
    config: ExportConfig, precision: str, output: Path, manifest: Manifest, progress: Callable[[str], None]
) -> None:  # pragma: no cover - GPU only
    from edgeinpaint.core.device import current_device
    from edgeinpaint.core.sidecar import engine_cache_key, engine_up_to_date, parse_shapes
    from edgeinpaint.export.tensorrt import build_engine

    profile = parse_shapes(config.shapes)
    device = current_device()
    # The generators and the fused model (whose Canny is the float32 graph, on the device). No standalone Canny
    # engine: nothing would open it (the three-engine route runs Canny on the host).
    targets = [manifest.require(r, precision) for r in (*GENERATORS, "fused")]
    for entry in targets:
        layout = "NHWC" if entry.role == "fused" and config.fused_uint8 else "NCHW"
        inputs = {str(i["name"]): (int(i["shape"][3 if layout == "NHWC" else 1]), layout) for i in entry.inputs}  # type: ignore[index]
        engine = output / entry.file.replace(".onnx", ".engine")
        tf32 = entry.role != "fused"  # the fused model's Canny thresholds need true FP32 (build_engine)
        key = engine_cache_key(
            entry.sha256, entry.precision, profile, config.workspace_gib, config.optimization_level, device, tf32
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
            tf32,
        )
