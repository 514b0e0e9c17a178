"""The one engine table: which backends exist, whether each can run here, and how to open one.

Every caller (CLI, pipeline, benchmarks, doctor, future servers and executors) opens generators
through :func:`open_engines`; adding a backend is one engine module plus one row of :data:`TABLE`.
``auto`` tries the rows of :data:`AUTO_ORDER` (fastest first): a backend whose check passes but
whose engines fail to open (an execution provider that is listed but cannot load its libraries)
is skipped with its reason, and the next one is tried.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import DependencyError, EdgeInpaintError
from edgeinpaint.core.specs import Backend
from edgeinpaint.runtime.engines.base import EngineRequest, Generators

__all__ = ["AUTO_ORDER", "TABLE", "BackendEntry", "EngineRequest", "Generators", "open_engines"]


@dataclass(frozen=True)
class BackendEntry:
    """One row of the table.

    Attributes:
        unavailable: None when the backend can run here with these artifacts, else the reason.
        open: opens both generators (raises DependencyError when the backend cannot load).
        needs_weights: runs the weights file (PyTorch), not the exported ONNX.
    """

    backend: Backend
    unavailable: Callable[[EngineRequest], str | None]
    open: Callable[[EngineRequest], tuple[Engine, Engine]]
    note: str
    needs_weights: bool = False
    open_fused: Callable[[EngineRequest], Engine] | None = None


def _lazy(module: str, function: str, *bound: object) -> Callable[[EngineRequest], Any]:
    """``edgeinpaint.runtime.engines.<module>.<function>(*bound, request)``, imported at the first call: a
    backend's libraries load only when that backend is asked about or used."""

    def call(request: EngineRequest) -> Any:
        return getattr(importlib.import_module(f"{__name__}.{module}"), function)(*bound, request)

    return call


TABLE: dict[Backend, BackendEntry] = {
    Backend.TENSORRT: BackendEntry(
        Backend.TENSORRT,
        _lazy("tensorrt", "unavailable"),
        _lazy("tensorrt", "open_generators"),
        "native TensorRT engines (fastest on NVIDIA GPUs)",
        open_fused=_lazy("tensorrt", "open_fused"),
    ),
    **{
        backend: BackendEntry(
            backend,
            _lazy("onnxruntime", "unavailable", backend),
            _lazy("onnxruntime", "open_generators", backend),
            note,
            open_fused=_lazy("onnxruntime", "open_fused", backend),
        )
        for backend, note in (
            (Backend.ONNXRUNTIME_TENSORRT, "ONNX Runtime's TensorRT execution provider"),
            (Backend.ONNXRUNTIME_CUDA, "ONNX Runtime on CUDA"),
        )
    },
    Backend.OPENVINO: BackendEntry(
        Backend.OPENVINO,
        _lazy("openvino", "unavailable"),
        _lazy("openvino", "open_generators"),
        # Measured (docs/performance.md, CPU engines): FP32 1.10-1.19x ONNX Runtime for paper-width weights
        # (AVX-512 and AVX2 machines), 0.82-1.13x for the 16-channel demo weights; BF16 (BF16 CPUs) 1.4-2.1x.
        "OpenVINO, CPU: 1.2x ONNX Runtime at paper width; about even on the small demo weights",
        open_fused=_lazy("openvino", "open_fused"),
    ),
    Backend.ONNXRUNTIME: BackendEntry(
        Backend.ONNXRUNTIME,
        _lazy("onnxruntime", "unavailable", Backend.ONNXRUNTIME),
        _lazy("onnxruntime", "open_generators", Backend.ONNXRUNTIME),
        "ONNX Runtime on the CPU",
        open_fused=_lazy("onnxruntime", "open_fused", Backend.ONNXRUNTIME),
    ),
    **{
        backend: BackendEntry(
            backend, _lazy("torch", "unavailable", device), _lazy("torch", "open_generators", device), note, True
        )
        for backend, device, note in (
            (Backend.TORCH, "cpu", "PyTorch eager on the CPU (the reference)"),
            (Backend.TORCH_CUDA, "cuda", "PyTorch on CUDA (autocast, channels_last, CUDA graphs with --cuda-graph)"),
        )
    },
}
AUTO_ORDER = (
    Backend.TENSORRT,
    Backend.ONNXRUNTIME_TENSORRT,
    Backend.ONNXRUNTIME_CUDA,
    Backend.TORCH_CUDA,
    Backend.OPENVINO,
    Backend.ONNXRUNTIME,
)


def _open(entry: BackendEntry, request: EngineRequest, fused: bool, why: str) -> Generators:
    if fused:
        if entry.open_fused is None:
            raise DependencyError(f"--backend {entry.backend.value} cannot run the fused model (an ONNX backend can)")
        return Generators(None, None, entry.backend, why, fused=entry.open_fused(request))
    edge, inpaint = entry.open(request)
    return Generators(edge, inpaint, entry.backend, why)


def open_engines(backend: Backend, request: EngineRequest, fused: bool = False) -> Generators:
    """Open both generators (or, with ``fused``, the fused model) on ``backend`` (``auto``: the fastest that opens).

    Raises:
        DependencyError: an explicitly requested backend is unavailable (with the reason).
        EdgeInpaintError: the artifacts lack the requested variant.
    """
    if backend is not Backend.AUTO:
        entry = TABLE[backend]
        reason = entry.unavailable(request)
        if reason is not None:
            raise DependencyError(f"--backend {backend.value} is unavailable: {reason}")
        return _open(entry, request, fused, f"{backend.value}: requested")
    unavailable: list[str] = []  # not installed / no device: names only (`edgeinpaint doctor` says why)
    reasons: list[str] = []
    failed: list[str] = []  # available but did not open: surprising, so with the reason
    for candidate in AUTO_ORDER:
        entry = TABLE[candidate]
        reason = entry.unavailable(request)
        if reason is None:
            why = f"auto picked {candidate.value}: {entry.note}"
            try:
                opened = _open(entry, request, fused, why)
            except DependencyError as exc:  # listed but does not load: fall through to the next
                failed.append(f"{candidate.value}: {exc}")
                continue
            except EdgeInpaintError:  # the artifacts lack the variant: the same for every backend
                raise
            except Exception as exc:  # an engine or execution provider that fails to open (EngineFailure, ORT)
                failed.append(f"{candidate.value}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
                continue
            if failed:
                opened.why += f"; did not open: {'; '.join(failed)}"
            if unavailable:
                opened.why += f"; not available here: {', '.join(unavailable)} (doctor says why)"
            return opened
        unavailable.append(candidate.value)
        reasons.append(f"{candidate.value}: {reason}")
    raise EdgeInpaintError(f"no backend could open the generators: {'; '.join([*failed, *reasons])}")
