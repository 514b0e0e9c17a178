"""The prepared GPU check (``scripts/gpu-check.sh``): what a lent GPU machine can tell in a few minutes.

It needs only what such a machine has (PyTorch with CUDA, onnxruntime CPU, onnx, numpy, OpenCV,
scikit-image, typer, rich, safetensors; no network): the demo weights are exported with PyTorch into the
output folder, ONNX Runtime CPU FP32 is the reference. Sections, each recorded even when another fails:

- ``environment``: ``edgeinpaint doctor`` (versions, providers, every backend with its reason);
- ``parity``: ``torch-cuda`` at fp32 / fp16 / bf16 against ONNX Runtime CPU FP32 on the bundled photos
  (PSNR of the composited pictures, the floors of core/tolerances.py);
- ``graphs``: ``--cuda-graph`` replay over shapes A, B, A: outputs equal the eager ones, memory bounded;
- ``throughput``: the paper-width generators (64 channels, 8 blocks; random weights: speed does not depend
  on them) at 256² and 512², batch 1 and 8, fp32 and fp16, timed with CUDA events after warm-up, as
  images/s and as a share of the card's measured matmul peak (MACs counted by forward hooks);
- ``tensorrt``: where TensorRT is installed, ``doctor --selftest`` (native engines and ORT providers vs CPU).

``--cpu`` runs every section on the CPU with tiny sizes (CI runs it: the code paths are exercised, the
figures mean nothing). The report is written as ``gpu-check.json`` and ``gpu-check.txt``.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.specs import Backend, Precision
from edgeinpaint.core.tolerances import BACKEND_FP32_FLOOR_DB, FLOORS_DB


def run_check(out: Path, cpu: bool, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every section into ``out``; the report (also written there)."""
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"mode": "cpu (dry run: code paths only)" if cpu else "gpu", "sections": {}}
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("environment", _environment),
        ("parity", lambda: _parity(out, cpu, progress)),
        ("graphs", lambda: _graphs(out, cpu)),
        ("throughput", lambda: _throughput(cpu, progress)),
        ("tensorrt", lambda: _tensorrt(out, cpu, progress)),
    ]
    for name, section in sections:
        progress(f"gpu-check: {name}")
        t0 = time.perf_counter()
        try:
            result = {"status": "ok", **section()}
        except Exception as exc:  # a section that fails is reported; the others still run
            result = {"status": "FAILED", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        result["seconds"] = round(time.perf_counter() - t0, 1)
        report["sections"][name] = result
    (out / "gpu-check.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "gpu-check.txt").write_text(describe(report))
    return report


def describe(report: dict[str, Any]) -> str:
    """The report as text: one block per section."""
    lines = [f"edgeinpaint gpu-check ({report['mode']})"]
    for name, section in report["sections"].items():
        lines.append(f"\n[{name}] {section['status']} ({section['seconds']} s)")
        if "error" in section:
            lines.append(f"  {section['error']}")
        for row in section.get("rows", []):
            lines.append("  " + ", ".join(f"{k} {v}" for k, v in row.items()))
        for key, value in section.get("facts", {}).items():
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def _environment() -> dict[str, Any]:
    from edgeinpaint.diagnostics.doctor import diagnose

    report = diagnose()
    facts = {f"{s}: {label}": value for s, rows in report.sections.items() for label, value in rows}
    return {"facts": facts, "problems": report.problems}


def _artifacts(out: Path, progress: Callable[[str], None]) -> Path:
    """The demo weights exported (FP32) into ``out/artifacts`` once."""
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.weights.registry import resolve_weights

    artifacts = out / "artifacts"
    export_artifacts(ExportConfig(weights=resolve_weights("demo"), output=artifacts, engine=False), progress=progress)
    return artifacts


def _parity(out: Path, cpu: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    from edgeinpaint.calibration.sources import photo_samples
    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

    artifacts = _artifacts(out, progress)
    size = 64 if cpu else 256
    with open_recipe(ModelSource(artifacts=artifacts), EngineOptions(backend=Backend.ONNXRUNTIME)) as reference:
        samples = photo_samples(reference.canny, 3, size, seed=5)
        truth = reference.batch(samples)
    backend = Backend.TORCH if cpu else Backend.TORCH_CUDA
    precisions = [Precision.FP32] if cpu else [Precision.FP32, Precision.FP16, Precision.BF16]
    rows = []
    for precision in precisions:
        floor = BACKEND_FP32_FLOOR_DB if precision is Precision.FP32 else FLOORS_DB[precision.value]
        options = EngineOptions(backend=backend, precision=precision)
        with open_recipe(ModelSource(weights="demo"), options) as recipe:
            pictures = recipe.batch(samples)
        psnr = float(np.mean([psnr8(a, b) for a, b in zip(truth, pictures, strict=True)]))
        status = "ok" if psnr >= floor else "BELOW FLOOR"
        rows.append({"backend": backend.value, "precision": precision.value, "psnr_db": round(psnr, 2),
                     "floor_db": floor, "status": status})  # fmt: skip
    facts = {"device canny": _device_canny(samples, cpu)}
    return {"rows": rows, "facts": facts, "ok": all(r["status"] == "ok" for r in rows)}


def _device_canny(samples: list[Any], cpu: bool) -> str:
    """Edge pixels where the device Canny (canny/torch_canny.py) differs from the float32 graph on ONNX
    Runtime CPU, fed the same float32 gray and known maps."""
    import onnxruntime as ort
    import torch

    from edgeinpaint.canny.graph import build_canny_model
    from edgeinpaint.canny.torch_canny import canny_torch
    from edgeinpaint.core.params import CannyParams
    from edgeinpaint.weights.format import load_weights
    from edgeinpaint.weights.registry import resolve_weights

    params: CannyParams = load_weights(resolve_weights("demo")).canny
    model = build_canny_model(params.sigma, params.low, params.high, exact=False)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    device = torch.device("cpu" if cpu else "cuda")
    differing = edges = 0
    for sample in samples:
        h, w = sample.size
        gray = np.ascontiguousarray(sample.gray[None, :, :h, :w], dtype=np.float32)
        known = (~sample.hole).astype(np.float32)[None, None]
        want = session.run(None, {"gray": gray, "known": known})[0]
        got = canny_torch(torch.from_numpy(gray).to(device), torch.from_numpy(known).to(device), params).cpu().numpy()
        differing += int((got != want).sum())
        edges += int(want.sum())
    return f"{differing} of {edges} edge pixels differ from the float32 graph on ONNX Runtime CPU ({device.type})"


def _graphs(out: Path, cpu: bool) -> dict[str, Any]:
    """Replay over shapes A, B, A: each output equals the eager engine's; device memory does not grow."""
    import torch

    from edgeinpaint.runtime.engines.base import EngineRequest
    from edgeinpaint.runtime.engines.torch import open_generators
    from edgeinpaint.weights.registry import resolve_weights

    device = "cpu" if cpu else "cuda"
    request = EngineRequest(weights=resolve_weights("demo"))
    graphed, _ = open_generators(device, EngineRequest(weights=request.weights, cuda_graph=True))
    eager, _ = open_generators(device, request)
    rows: list[dict[str, Any]] = []
    memory = (lambda: torch.cuda.memory_allocated()) if not cpu else (lambda: 0)
    sizes = [(64, 64), (48, 64), (64, 64)] if cpu else [(256, 256), (256, 320), (256, 256)]
    try:
        for h, w in sizes:
            rng = np.random.default_rng(h * w)
            feeds = {
                "gray": rng.random((1, 1, h, w), dtype=np.float32),
                "edges": (rng.random((1, 1, h, w)) > 0.9).astype(np.float32),
                "mask": (rng.random((1, 1, h, w)) > 0.7).astype(np.float32),
            }
            got, want = graphed.run(feeds)["edges_pred"], eager.run(feeds)["edges_pred"]
            rows.append({"shape": f"{h}x{w}", "max_abs_vs_eager": float(np.abs(got - want).max()),
                         "device_memory_mb": round(memory() / 2**20, 1)})  # fmt: skip
    finally:
        graphed.close()
        eager.close()
    grew = rows[2]["device_memory_mb"] - rows[1]["device_memory_mb"]
    facts = {"replayed": "no (CPU: torch captures CUDA graphs only on CUDA)" if cpu else "yes",
             "memory_growth_on_the_repeat_mb": round(grew, 1)}  # fmt: skip
    return {"rows": rows, "facts": facts}


def _macs(module: Any, args: list[Any]) -> int:
    """Multiply-accumulates of one forward pass, counted by hooks on every convolution."""
    import torch

    total = [0]

    def hook(layer: Any, _inputs: Any, output: Any) -> None:
        kernel = int(np.prod(layer.kernel_size)) * layer.in_channels // layer.groups
        if isinstance(layer, torch.nn.ConvTranspose2d):
            taps = layer.out_channels // layer.groups * int(np.prod(layer.kernel_size))
            total[0] += int(_inputs[0].numel()) * taps
        else:
            total[0] += int(output.numel()) * kernel

    convolutions = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    handles = [m.register_forward_hook(hook) for m in convolutions]
    try:
        with torch.inference_mode():
            module.predict(*args)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def _throughput(cpu: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    import torch

    from edgeinpaint.core.architecture import Architecture
    from edgeinpaint.models import InpaintGenerator

    device = torch.device("cpu" if cpu else "cuda")
    arch = Architecture(base_channels=8, residual_blocks=1) if cpu else Architecture()
    module = InpaintGenerator(arch).eval().to(device)
    sizes, batches, iterations = ([64], [1], 2) if cpu else ([256, 512], [1, 8], 20)
    peak = _matmul_peak(device, cpu)
    rows = []
    for dtype in (torch.float32, torch.float16) if not cpu else (torch.float32,):
        for size in sizes:
            for batch in batches:
                progress(f"gpu-check: throughput {str(dtype)[6:]} {size}² batch {batch}")
                args = [torch.rand(batch, c, size, size, device=device) for c in (3, 1, 1)]
                macs = _macs(module, args)
                seconds = _time(module, args, dtype, iterations, cpu)
                tflops = 2 * macs / seconds / 1e12
                rows.append({"dtype": str(dtype)[6:], "size": size, "batch": batch,
                             "images_per_s": round(batch / seconds, 1), "tflops": round(tflops, 4),
                             "share_of_peak": round(tflops / peak[str(dtype)[6:]], 3)})  # fmt: skip
    facts = {"generator": f"inpaint, {arch.base_channels} channels, {arch.residual_blocks} blocks (random weights)",
             "matmul_peak_tflops": peak}  # fmt: skip
    return {"rows": rows, "facts": facts}


def _time(module: Any, args: list[Any], dtype: Any, iterations: int, cpu: bool) -> float:
    """Seconds per call after warm-up: CUDA events on a GPU, the wall clock on the CPU."""
    import torch

    def call() -> None:
        with torch.inference_mode(), torch.autocast(args[0].device.type, dtype=dtype, enabled=dtype != torch.float32):
            module.predict(*args)

    for _ in range(3):
        call()
    if cpu:
        t0 = time.perf_counter()
        for _ in range(iterations):
            call()
        return (time.perf_counter() - t0) / iterations
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        call()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / iterations


def _matmul_peak(device: Any, cpu: bool) -> dict[str, float]:
    """Measured matmul TFLOP/s per dtype (the denominator of share_of_peak)."""
    import torch

    n, out = (512 if cpu else 8192), {}
    for dtype in (torch.float32,) if cpu else (torch.float32, torch.float16):
        a, b = torch.rand(n, n, device=device, dtype=dtype), torch.rand(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        if not cpu:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        if not cpu:
            torch.cuda.synchronize()
        out[str(dtype)[6:]] = round(2 * n**3 * 5 / (time.perf_counter() - t0) / 1e12, 2)
    return out


def _tensorrt(out: Path, cpu: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    from edgeinpaint.runtime.engines.base import installed

    if cpu or not installed("tensorrt"):
        return {"facts": {"tensorrt": "skipped: not installed here (or --cpu)"}}
    from edgeinpaint.diagnostics.doctor import selftest

    _report, checks = selftest(progress, keep=out / "selftest")
    rows = [{"backend": c.backend, "precision": c.precision, "psnr_db": c.psnr_db, "images_per_s": c.images_per_s,
             "status": c.status, "detail": c.detail} for c in checks]  # fmt: skip
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="edgeinpaint's prepared GPU check")
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU (tiny sizes): exercises the code")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="report folder")
    args = parser.parse_args(argv)
    if not args.cpu:
        import torch

        if not torch.cuda.is_available():
            print("gpu-check: torch sees no CUDA device; use --cpu for a dry run")
            return 2
    report = run_check(args.out, args.cpu)
    print(describe(report))
    failed = [n for n, s in report["sections"].items() if s["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
