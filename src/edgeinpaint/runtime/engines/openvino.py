"""OpenVINO on the CPU (one row of the engine table): the same exported ONNX files, compiled by OpenVINO.

The engine class and its precision hints are in core/openvino.py. BF16 runs the FP32 graphs at
BF16 inference precision, only on CPUs with native BF16 (AVX512_BF16 or AMX): elsewhere it is
refused, never emulated or downgraded.
"""

from __future__ import annotations

from pathlib import Path

from edgeinpaint.core.cpu import has_bf16
from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import DependencyError
from edgeinpaint.core.manifest import ArtifactFile
from edgeinpaint.core.openvino import OpenVinoEngine
from edgeinpaint.core.specs import Backend, Precision
from edgeinpaint.core.tolerances import FUSED_MAX_LEVELS
from edgeinpaint.runtime.engines.base import EngineRequest, installed


def unavailable(request: EngineRequest) -> str | None:
    """None when OpenVINO can run ``request.precision`` on this CPU, else why not."""
    if not installed("openvino"):
        return "openvino not installed (pip install 'edgeinpaint[cpu]', or -e '.[cpu]' from a clone)"
    if request.precision is Precision.BF16 and not has_bf16():
        return "this CPU has no native BF16 (AVX512_BF16 or AMX); bf16 is refused, not emulated"
    return None


def _artifact(request: EngineRequest, role: str) -> tuple[ArtifactFile, Path]:
    """``role``'s verified file; BF16 runs the FP32 graph at BF16 inference precision (the file is FP32)."""
    precision = Precision.FP32 if request.precision is Precision.BF16 else request.precision
    return request.artifact(role, Backend.OPENVINO, precision)


def _writable(folder: Path) -> bool:
    """True when ``folder`` is (or can be made) a real folder we can create files in."""
    import tempfile

    try:
        if folder.is_symlink():  # never write through a link (it may point outside the artifacts)
            return False
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            return True
    except OSError:
        return False


def model_cache(onnx_sha256: str) -> Path | None:
    """Where OpenVINO keeps the compiled form of one ONNX file (a second run then skips compilation).

    In the user's cache folder, keyed by the file's sha256 (the manifest verified it), never in the
    artifacts folder: artifacts may be shared or read-only, and OpenVINO loads any blob whose name
    matches its own hash of the model and config without checking where the blob came from, so a blob
    planted in a shared folder (compiled from other weights) would paint with them. None when the
    cache folder cannot be written: compile every time, never fail for want of a cache.
    """
    from edgeinpaint.export.artifacts import default_cache_dir

    folder = default_cache_dir() / "openvino" / onnx_sha256[:32]
    return folder if _writable(folder) else None


def open_generators(request: EngineRequest) -> tuple[Engine, Engine]:
    edge, inpaint = (_open(request, *_artifact(request, role)) for role in ("edge_generator", "inpaint_generator"))
    return edge, inpaint


def _open(request: EngineRequest, entry: ArtifactFile, path: Path) -> Engine:
    return OpenVinoEngine(path, request.precision, request.threads, model_cache(entry.sha256))


def open_fused(request: EngineRequest) -> Engine:
    entry, path = _artifact(request, "fused")
    drift = entry.accuracy.get("max_levels_vs_three_stage_openvino")
    if isinstance(drift, int) and drift > FUSED_MAX_LEVELS:
        # Export ran the fused model on OpenVINO and found it off by more than the floor (its float32 Canny
        # can flip single edge pixels where ONNX Runtime's does not): refuse instead of painting differently.
        raise DependencyError(
            f"the fused model differs from the three-stage run by up to {drift} levels on OpenVINO (export's "
            f"check, > {FUSED_MAX_LEVELS}); run it on ONNX Runtime (--backend onnxruntime) or drop --fused"
        )
    return _open(request, entry, path)


def devices() -> list[str]:
    """OpenVINO's devices with their full names (doctor)."""
    import openvino as ov

    core = ov.Core()
    return [f"{d}: {core.get_property(d, 'FULL_DEVICE_NAME')}" for d in core.available_devices]
