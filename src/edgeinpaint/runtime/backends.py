"""Which backend runs the generators: a table of candidates, availability checks and ``auto``.

``auto`` takes the first available entry of :data:`AUTO_ORDER` (fastest first) and says why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeinpaint.errors import DependencyError
from edgeinpaint.specs import Backend


def _ort_provider(name: str) -> Callable[[Path | None], str | None]:
    def check(_artifacts: Path | None) -> str | None:
        import onnxruntime as ort

        have = ort.get_available_providers()
        return None if name in have else f"ONNX Runtime has no {name} (providers: {', '.join(have)})"

    return check


def _tensorrt(artifacts: Path | None) -> str | None:
    if importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("cuda") is None:
        return "tensorrt / cuda-python not installed"
    from edgeinpaint.export.tensorrt import tensorrt_available

    if not tensorrt_available():
        return "no CUDA device visible"
    if artifacts is not None and not list(Path(artifacts).glob("*.engine")):
        return f"no TensorRT engines in {artifacts} (export with --engine)"
    return None


def _torch(_artifacts: Path | None) -> str | None:
    return None if importlib.util.find_spec("torch") is not None else "torch not installed"


@dataclass(frozen=True)
class BackendEntry:
    """One row of the table: how to tell whether a backend can run here."""

    backend: Backend
    unavailable: Callable[[Path | None], str | None]
    note: str


TABLE: dict[Backend, BackendEntry] = {
    Backend.TENSORRT: BackendEntry(Backend.TENSORRT, _tensorrt, "native TensorRT engines (fastest on NVIDIA GPUs)"),
    Backend.ONNXRUNTIME_TENSORRT: BackendEntry(
        Backend.ONNXRUNTIME_TENSORRT,
        _ort_provider("TensorrtExecutionProvider"),
        "ONNX Runtime's TensorRT execution provider",
    ),
    Backend.ONNXRUNTIME_CUDA: BackendEntry(
        Backend.ONNXRUNTIME_CUDA, _ort_provider("CUDAExecutionProvider"), "ONNX Runtime on CUDA"
    ),
    Backend.ONNXRUNTIME: BackendEntry(
        Backend.ONNXRUNTIME,
        lambda _a: None,
        "ONNX Runtime on the CPU (fastest CPU option measured, see README Performance)",
    ),
    Backend.TORCH: BackendEntry(Backend.TORCH, _torch, "PyTorch eager (the reference)"),
}
AUTO_ORDER = (Backend.TENSORRT, Backend.ONNXRUNTIME_TENSORRT, Backend.ONNXRUNTIME_CUDA, Backend.ONNXRUNTIME)

#: ONNX Runtime execution providers per ORT backend, in priority order.
ORT_PROVIDERS = {
    Backend.ONNXRUNTIME: ("CPUExecutionProvider",),
    Backend.ONNXRUNTIME_CUDA: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    Backend.ONNXRUNTIME_TENSORRT: ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


def resolve_backend(requested: Backend, artifacts: Path | None = None) -> tuple[Backend, str]:
    """The backend to use and a one-line reason.

    Raises:
        DependencyError: an explicitly requested backend is unavailable (with the reason).
    """
    if requested is not Backend.AUTO:
        reason = TABLE[requested].unavailable(artifacts)
        if reason is not None:
            raise DependencyError(f"--backend {requested.value} is unavailable: {reason}")
        return requested, f"{requested.value}: requested"
    skipped: list[str] = []
    for candidate in AUTO_ORDER:
        reason = TABLE[candidate].unavailable(artifacts)
        if reason is None:
            why = f"auto picked {candidate.value}: {TABLE[candidate].note}"
            return candidate, why + (f" (skipped: {'; '.join(skipped)})" if skipped else "")
        skipped.append(f"{candidate.value}: {reason}")
    raise DependencyError("no backend available")  # pragma: no cover - onnxruntime is always there


def ort_provider_options(backend: Backend, artifacts: Path) -> list[tuple[str, dict[str, str]]]:
    """Providers with options; the TensorRT EP keeps its engine and timing caches in the artifacts dir."""
    providers = []
    for name in ORT_PROVIDERS[backend]:
        options: dict[str, str] = {}
        if name == "TensorrtExecutionProvider":
            cache = str(Path(artifacts) / "trt_ep_cache")
            options = {
                "trt_engine_cache_enable": "True",
                "trt_engine_cache_path": cache,
                "trt_timing_cache_enable": "True",
                "trt_timing_cache_path": cache,
            }
        providers.append((name, options))
    return providers
