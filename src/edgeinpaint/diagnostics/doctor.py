"""``edgeinpaint doctor``: what this machine can run, why not the rest, and proof that what runs is right.

The report asks the driver, the installed packages and ONNX Runtime itself (a provider counts only
when a session really activates it), then lists every row of the engine table with the reason it
is unavailable and the command that fixes it. ``--selftest`` exports the bundled demo weights (a
small CPU-trained EdgeConnect) in every precision, builds engines where TensorRT and a GPU exist,
runs every available backend x precision on bundled photos and compares the pictures with ONNX
Runtime CPU FP32 against the precision floors (core/tolerances.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeinpaint.core.cpu import cpu_features, cpu_model
from edgeinpaint.core.device import INSTALL_HINT, cuda_probe
from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.specs import Backend, Precision
from edgeinpaint.core.tolerances import BACKEND_FP32_FLOOR_DB, FLOORS_DB
from edgeinpaint.core.version import __version__

#: What to install for each missing piece (shown next to the gap).
FIXES = {
    "onnxruntime": "pip install 'edgeinpaint[cpu]' (CPU) or 'edgeinpaint[cuda12]' (NVIDIA); -e '.[…]' from a clone",
    "CUDAExecutionProvider": "pip uninstall onnxruntime && " + INSTALL_HINT,
    "TensorrtExecutionProvider": INSTALL_HINT + "; the TensorRT libraries must be on LD_LIBRARY_PATH",
    "tensorrt": INSTALL_HINT,
    "torch": "pip install torch==2.13.0 (CPU) or the CUDA build from pytorch.org, then pip install -e '.[torch]'",
    "driver": "install the NVIDIA driver (R525+ for CUDA 12, R580+ for CUDA 13); check with nvidia-smi",
}


@dataclass
class Report:
    """Sections of (label, value) rows plus the problems found; ``ok`` is False when a selftest failed."""

    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    ok: bool = True

    def add(self, section: str, label: str, value: object) -> None:
        self.sections.setdefault(section, []).append((label, str(value)))


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(report: Report) -> None:
    report.add("machine", "edgeinpaint", __version__)
    report.add("machine", "python", platform.python_version())
    report.add("machine", "platform", platform.platform())
    report.add("machine", "cpu", f"{cpu_model()} ({', '.join(cpu_features()) or 'no x86 SIMD flags read'})")
    probe = cuda_probe()
    if probe.devices:
        report.add("gpu", "devices", ", ".join(probe.devices))
        report.add(
            "gpu", "driver", f"{probe.driver or '?'} (CUDA {probe.cuda_driver or '?'} capable, via {probe.source})"
        )
    else:
        report.add("gpu", "devices", f"no GPU present ({probe.problem})")
    for dist in ("numpy", "onnx", "scikit-image", "opencv-python-headless", "opencv-python", "onnxruntime",
                 "onnxruntime-gpu", "onnxruntime-openvino", "openvino", "tensorrt", "tensorrt-cu12", "tensorrt-cu13",
                 "cuda-python", "cuda-bindings", "torch", "cupy-cuda12x"):  # fmt: skip
        if (v := _version(dist)) is not None:
            report.add("packages", dist, v)
    flavours = [d for d in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino") if _version(d)]
    if len(flavours) > 1:
        report.problems.append(
            f"{' and '.join(flavours)} are installed together: they share one package directory and the last "
            f"installed wins; keep one (pip uninstall {' '.join(flavours)} && pip install 'edgeinpaint[cpu]' or "
            "'[cuda12]')"
        )
    if importlib.util.find_spec("openvino") is not None:
        from edgeinpaint.runtime.engines.openvino import devices

        report.add("packages", "openvino devices", "; ".join(devices()))
    if importlib.util.find_spec("torch") is not None:
        import torch

        cuda = torch.version.cuda or "CPU build"
        report.add("packages", "torch CUDA", f"{cuda}; torch sees {torch.cuda.device_count()} GPU(s)")
        if probe.devices and not torch.cuda.is_available():
            report.problems.append("a GPU is present but this torch cannot use it: " + FIXES["torch"])


def providers(report: Report) -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        report.problems.append("ONNX Runtime is not installed: " + FIXES["onnxruntime"])
        return
    import onnxruntime as ort

    from edgeinpaint.runtime.engines.onnxruntime import provider_loads

    report.add("onnxruntime", "version", ort.__version__)
    for name in ort.get_available_providers():
        why = provider_loads(name)
        report.add("onnxruntime", name, "loads (a session activated it)" if why is None else f"listed, {why}")
        if why is not None and name in FIXES:
            report.problems.append(f"{name}: {why}; fix: {FIXES[name]}")


def backends(report: Report, artifacts: Path | None, weights: Path | None) -> list[Backend]:
    """Every engine-table row, available or why not; returns the available ones in auto's order first."""
    from edgeinpaint.runtime.engines import AUTO_ORDER, TABLE, EngineRequest

    request = EngineRequest(artifacts=artifacts, weights=weights)
    available = []
    for backend, entry in TABLE.items():
        try:
            why = entry.unavailable(request)
        except EdgeInpaintError as exc:
            why = str(exc)
        report.add("backends", backend.value, "available" if why is None else f"unavailable: {why}")
        if why is None:
            available.append(backend)
    pick = next((b for b in AUTO_ORDER if b in available), None)
    report.add("backends", "auto would pick", pick.value if pick else "nothing")
    return sorted(available, key=lambda b: AUTO_ORDER.index(b) if b in AUTO_ORDER else len(AUTO_ORDER))


def diagnose(artifacts: Path | None = None) -> Report:
    report = Report()
    environment(report)
    providers(report)
    from edgeinpaint.weights.registry import resolve_weights

    backends(report, artifacts, resolve_weights("demo"))
    return report


@dataclass
class Check:
    backend: str
    precision: str
    psnr_db: float | None
    floor_db: float | None
    images_per_s: float | None
    status: str
    detail: str = ""
    transfers: dict[str, int] | None = None
    composite_ms: float | None = None


def selftest(progress: Callable[[str], None] = lambda _m: None, keep: Path | None = None) -> tuple[Report, list[Check]]:
    """Export the demo weights in every precision (engines too where TensorRT and a GPU are), then run every
    available backend x precision (and ``--fused``, and ``--cuda-graph`` where a backend replays CUDA graphs)
    and compare its pictures to ONNX Runtime CPU FP32.

    Args:
        keep: export into this folder (reused by a later selftest); default a temporary one.
    """
    from edgeinpaint.calibration.sources import PHOTOS, sample_photo
    from edgeinpaint.core.errors import require_torch
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.runtime.engines import TABLE
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
    from edgeinpaint.trainer.masks import MaskSampler
    from edgeinpaint.weights.registry import resolve_weights

    report = diagnose()
    require_torch()  # the export needs it
    weights = resolve_weights("demo")
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="eip-selftest-") as tmp:
        out = keep or Path(tmp) / "artifacts"
        calib = Path(tmp) / "calib"
        calib.mkdir()
        from PIL import Image

        for name in PHOTOS:
            Image.fromarray(sample_photo(name, 128)).save(calib / f"{name}.png")
        for precision in (Precision.FP32, Precision.FP16, Precision.INT8):  # FP32 too: its engines
            progress(f"export {precision.value} (demo weights)")
            export_artifacts(
                ExportConfig(weights=weights, output=out, precision=precision, calibration=calib), progress=progress
            )
        sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35))
        rng = np.random.default_rng(5)
        pairs = [(sample_photo(name, 256), sampler.sample(rng, 256, 256)) for name in PHOTOS[:3]]
        with open_recipe(ModelSource(artifacts=out), EngineOptions(backend=Backend.ONNXRUNTIME)) as reference:
            truth = [reference(rgb, hole) for rgb, hole in pairs]
        for backend in backends(Report(), out, weights):
            modes: list[dict[str, bool]] = [{}]
            if TABLE[backend].open_fused is not None:
                modes.append({"fused": True})
            if backend in (Backend.TENSORRT, Backend.TORCH_CUDA):
                modes.append({"cuda_graph": True})
            for mode in modes:
                for precision in Precision:
                    checks.append(_check(backend, precision, mode, out, weights, pairs, truth, progress))
    report.add("selftest", "photos", f"{len(pairs)} bundled photos at 256², holes 10-35%, vs ONNX Runtime CPU FP32")
    report.add("selftest", "img/s", "the networks alone (one batch per call); the composite is timed apart")
    report.ok = all(c.status in ("ok", "skipped") for c in checks)
    return report, checks


def _check(
    backend: Backend,
    precision: Precision,
    mode: dict[str, bool],
    artifacts: Path,
    weights: Path,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    truth: list[np.ndarray],
    progress: Callable[[str], None],
) -> Check:
    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

    label = backend.value + "".join(f" --{k.replace('_', '-')}" for k in mode)
    floor = BACKEND_FP32_FLOOR_DB if precision is Precision.FP32 else FLOORS_DB.get(precision.value)
    source = ModelSource(weights=str(weights)) if _needs_weights(backend) else ModelSource(artifacts=artifacts)
    progress(f"selftest {label} {precision.value}")
    try:
        options = EngineOptions(backend=backend, precision=precision, cuda_graph=mode.get("cuda_graph", False),
                                fused=mode.get("fused", False))  # fmt: skip
        recipe = open_recipe(source, options)
    except EdgeInpaintError as exc:  # not available for this precision or mode: said why
        return Check(label, precision.value, None, floor, None, "skipped", str(exc).splitlines()[0][:160])
    except Exception as exc:  # an execution provider or engine that fails to open is a finding, not a crash
        return Check(label, precision.value, None, floor, None, "FAILED", f"{type(exc).__name__}: {exc}"[:200])
    try:
        prepared = [recipe.prepare(rgb, hole) for rgb, hole in pairs]
        raws = [recipe.infer([p])[0] for p in prepared]  # also the warm-up (a graph capture, lazy init)
        t0 = time.perf_counter()
        rounds = 3
        for _ in range(rounds):
            for p in prepared:
                recipe.infer([p])
        rate = rounds * len(prepared) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        pictures = [recipe.finish(p, r) for p, r in zip(prepared, raws, strict=True)]
        composite_ms = (time.perf_counter() - t0) * 1e3 / len(prepared)
        psnr = float(np.mean([psnr8(a, b) for a, b in zip(truth, pictures, strict=True)]))
        engines = (recipe.generators.edge, recipe.generators.inpaint, recipe.generators.fused)
        stats = [e.stats.to_json() for e in engines if e is not None and hasattr(e, "stats")]
        transfers = {k: sum(s[k] for s in stats) for k in stats[0]} if stats else None
    except Exception as exc:  # a failure while running is reported with the rest of the table
        return Check(label, precision.value, None, floor, None, "FAILED", f"{type(exc).__name__}: {exc}"[:200])
    finally:
        recipe.close()
    status = "ok" if floor is None or psnr >= floor else "FAILED"
    return Check(label, precision.value, round(psnr, 2), floor, round(rate, 2), status, "", transfers,
                 round(composite_ms, 2))  # fmt: skip


def _needs_weights(backend: Backend) -> bool:
    from edgeinpaint.runtime.engines import TABLE

    return TABLE[backend].needs_weights
