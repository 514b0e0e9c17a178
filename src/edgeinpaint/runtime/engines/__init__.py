"""The one engine table: which backends exist, whether each can run here, and how to open one.

Every caller (CLI, pipeline, benchmarks, doctor, future servers and executors) opens generators
through :func:`open_engines`; adding a backend is one engine module plus one row of :data:`TABLE`.
``auto`` tries the rows of :data:`AUTO_ORDER` (fastest first): a backend whose check passes but
whose engines fail to open (an execution provider that is listed but cannot load its libraries)
is skipped with its reason, and the next one is tried.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import DependencyError, EdgeInpaintError
from edgeinpaint.core.manifest import Manifest
from edgeinpaint.core.specs import Backend, Precision


@dataclass(frozen=True)
class EngineRequest:
    """What to open.

    Attributes:
        artifacts: artifacts directory (ONNX backends); manifest: its parsed manifest.
        weights: weights file (the torch backend, which runs the PyTorch modules).
        precision: which exported variant. threads: CPU threads (None = all cores).
        cuda_graph: native TensorRT: capture and replay CUDA graphs per shape.
    """

    artifacts: Path | None = None
    manifest: Manifest | None = None
    weights: Path | None = None
    precision: Precision = Precision.FP32
    threads: int | None = None
    cuda_graph: bool = False


@dataclass
class Generators:
    """The engines of one backend: both generators, or the fused single-file model; closes them (idempotent).

    Attributes:
        edge / inpaint: the generators (None in fused mode). fused: the fused model (image + mask
            in, picture + raw output out; export/fused.py), or None.
    """

    edge: Engine | None
    inpaint: Engine | None
    backend: Backend
    why: str = ""
    fused: Engine | None = None
    closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for engine in (self.edge, self.inpaint, self.fused):
                if engine is not None:
                    engine.close()

    def __enter__(self) -> Generators:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


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


def _have(*modules: str) -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


def _ort_unavailable(provider: str) -> Callable[[EngineRequest], str | None]:
    def check(request: EngineRequest) -> str | None:
        from edgeinpaint.runtime.engines.onnxruntime import provider_loads

        if request.precision is Precision.BF16:
            return "bf16 is an inference precision of OpenVINO (CPU) and torch-cuda, not of ONNX Runtime"
        return provider_loads(provider)

    return check


def _openvino_unavailable(request: EngineRequest) -> str | None:
    from edgeinpaint.runtime.engines.openvino import unavailable

    return unavailable(request)


def _open_openvino(request: EngineRequest) -> tuple[Engine, Engine]:
    from edgeinpaint.runtime.engines.openvino import open_generators

    return open_generators(request)


def _open_openvino_fused(request: EngineRequest) -> Engine:
    from edgeinpaint.runtime.engines.openvino import open_fused

    return open_fused(request)


def _open_ort(backend: Backend) -> Callable[[EngineRequest], tuple[Engine, Engine]]:
    def open_(request: EngineRequest) -> tuple[Engine, Engine]:
        from edgeinpaint.runtime.engines.onnxruntime import open_generators

        return open_generators(backend, request)

    return open_


def _open_ort_fused(backend: Backend) -> Callable[[EngineRequest], Engine]:
    def open_(request: EngineRequest) -> Engine:
        from edgeinpaint.runtime.engines.onnxruntime import open_fused

        return open_fused(backend, request)

    return open_


def _open_tensorrt_fused(request: EngineRequest) -> Engine:
    from edgeinpaint.runtime.engines.tensorrt import open_fused

    return open_fused(request)


def _tensorrt_unavailable(request: EngineRequest) -> str | None:
    if not _have("tensorrt", "cuda"):
        return "tensorrt / cuda-python not installed"
    from edgeinpaint.runtime.engines.tensorrt import engines_missing

    return engines_missing(request)


def _open_tensorrt(request: EngineRequest) -> tuple[Engine, Engine]:
    from edgeinpaint.runtime.engines.tensorrt import open_generators

    return open_generators(request)


def _torch_unavailable(request: EngineRequest) -> str | None:
    if not _have("torch"):
        return "torch not installed (pip install torch==2.13.0 then pip install -e '.[torch]')"
    if request.weights is None:
        return "needs --weights (it runs the PyTorch modules, not the exported ONNX)"
    if request.precision is not Precision.FP32:
        return f"the CPU reference runs fp32 only, not {request.precision.value} (torch-cuda runs fp16 and bf16)"
    return None


def _open_torch(request: EngineRequest) -> tuple[Engine, Engine]:
    from edgeinpaint.runtime.engines.torch import open_generators

    return open_generators(request, "cpu")


def _torch_cuda_unavailable(request: EngineRequest) -> str | None:
    if not _have("torch"):
        return "torch not installed (a CUDA build from pytorch.org, then pip install -e '.[torch]')"
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device" + ("" if torch.version.cuda else " (a CPU build)")
    if request.weights is None:
        return "needs --weights (it runs the PyTorch modules, not the exported ONNX)"
    if request.precision is Precision.INT8:
        return "int8 runs on the ONNX backends (Q/DQ graphs); torch-cuda runs fp32, fp16 and bf16"
    if request.precision is Precision.BF16 and torch.cuda.get_device_capability()[0] < 8:
        return "this GPU has no native BF16 (compute capability < 8.0); use fp16"
    return None


def _open_torch_cuda(request: EngineRequest) -> tuple[Engine, Engine]:
    from edgeinpaint.runtime.engines.torch import open_generators

    return open_generators(request, "cuda")


TABLE: dict[Backend, BackendEntry] = {
    Backend.TENSORRT: BackendEntry(
        Backend.TENSORRT,
        _tensorrt_unavailable,
        _open_tensorrt,
        "native TensorRT engines (fastest on NVIDIA GPUs)",
        open_fused=_open_tensorrt_fused,
    ),
    Backend.ONNXRUNTIME_TENSORRT: BackendEntry(
        Backend.ONNXRUNTIME_TENSORRT,
        _ort_unavailable("TensorrtExecutionProvider"),
        _open_ort(Backend.ONNXRUNTIME_TENSORRT),
        "ONNX Runtime's TensorRT execution provider",
        open_fused=_open_ort_fused(Backend.ONNXRUNTIME_TENSORRT),
    ),
    Backend.ONNXRUNTIME_CUDA: BackendEntry(
        Backend.ONNXRUNTIME_CUDA,
        _ort_unavailable("CUDAExecutionProvider"),
        _open_ort(Backend.ONNXRUNTIME_CUDA),
        "ONNX Runtime on CUDA",
        open_fused=_open_ort_fused(Backend.ONNXRUNTIME_CUDA),
    ),
    Backend.OPENVINO: BackendEntry(
        Backend.OPENVINO,
        _openvino_unavailable,
        _open_openvino,
        # Measured (docs/performance.md, CPU engines): FP32 1.10-1.19x ONNX Runtime for paper-width weights
        # (AVX-512 and AVX2 machines), 0.82-1.13x for the 16-channel demo weights; BF16 (BF16 CPUs) 1.4-2.1x.
        "OpenVINO, CPU: 1.2x ONNX Runtime at paper width; about even on the small demo weights",
        open_fused=_open_openvino_fused,
    ),
    Backend.ONNXRUNTIME: BackendEntry(
        Backend.ONNXRUNTIME,
        _ort_unavailable("CPUExecutionProvider"),
        _open_ort(Backend.ONNXRUNTIME),
        "ONNX Runtime on the CPU",
        open_fused=_open_ort_fused(Backend.ONNXRUNTIME),
    ),
    Backend.TORCH: BackendEntry(
        Backend.TORCH, _torch_unavailable, _open_torch, "PyTorch eager on the CPU (the reference)", needs_weights=True
    ),
    Backend.TORCH_CUDA: BackendEntry(
        Backend.TORCH_CUDA,
        _torch_cuda_unavailable,
        _open_torch_cuda,
        "PyTorch on CUDA (autocast, channels_last, CUDA graphs with --cuda-graph)",
        needs_weights=True,
    ),
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
            if failed:
                opened.why += f"; did not open: {'; '.join(failed)}"
            if unavailable:
                opened.why += f"; not available here: {', '.join(unavailable)} (doctor says why)"
            return opened
        unavailable.append(candidate.value)
        reasons.append(f"{candidate.value}: {reason}")
    raise EdgeInpaintError(f"no backend could open the generators: {'; '.join([*failed, *reasons])}")
