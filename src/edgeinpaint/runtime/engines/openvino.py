"""OpenVINO on the CPU (one row of the engine table): the same exported ONNX files, compiled by OpenVINO.

The engine class and its precision hints are in core/openvino.py. BF16 runs the FP32 graphs at
BF16 inference precision, only on CPUs with native BF16 (AVX512_BF16 or AMX): elsewhere it is
refused, never emulated or downgraded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeinpaint.core.cpu import has_bf16
from edgeinpaint.core.engine import Engine
from edgeinpaint.core.errors import ArtifactError, DependencyError
from edgeinpaint.core.manifest import read_manifest, verify_file
from edgeinpaint.core.openvino import OpenVinoEngine
from edgeinpaint.core.specs import Precision
from edgeinpaint.core.tolerances import FUSED_MAX_LEVELS


def unavailable(request: Any) -> str | None:
    """None when OpenVINO can run ``request.precision`` on this CPU, else why not."""
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        return "openvino not installed (pip install 'edgeinpaint[cpu]', or -e '.[cpu]' from a clone)"
    if request.precision is Precision.BF16 and not has_bf16():
        return "this CPU has no native BF16 (AVX512_BF16 or AMX); bf16 is refused, not emulated"
    return None


def _file_precision(precision: Precision) -> str:
    """BF16 runs the FP32 graph at BF16 inference precision (the file itself is FP32)."""
    return Precision.FP32.value if precision is Precision.BF16 else precision.value


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


def model_cache(artifacts: Path) -> Path | None:
    """Where OpenVINO keeps compiled models for ``artifacts`` (a second run then skips compilation).

    ``<artifacts>/openvino_cache`` when it can be written; else, for a read-only model folder (normal
    in containers) or a cache folder that is a symlink, a folder in the user's cache keyed by the
    artifacts' real path; else None: compile every time, never fail for want of a cache.
    """
    own = Path(artifacts) / "openvino_cache"
    if _writable(own):
        return own
    import hashlib

    from edgeinpaint.export.artifacts import default_cache_dir

    user = default_cache_dir() / "openvino" / hashlib.sha256(str(Path(artifacts).resolve()).encode()).hexdigest()[:16]
    return user if _writable(user) else None


def open_generators(request: Any) -> tuple[Engine, Engine]:
    if request.artifacts is None:
        raise ArtifactError("--backend openvino runs exported ONNX: give --artifacts or --weights")
    manifest = request.manifest or read_manifest(request.artifacts)
    cache = model_cache(Path(request.artifacts))
    engines = []
    for role in ("edge_generator", "inpaint_generator"):
        path = verify_file(request.artifacts, manifest.require(role, _file_precision(request.precision)))
        engines.append(OpenVinoEngine(path, request.precision, request.threads, cache))
    return engines[0], engines[1]


def open_fused(request: Any) -> Engine:
    if request.artifacts is None:
        raise ArtifactError("--backend openvino runs exported ONNX: give --artifacts or --weights")
    manifest = request.manifest or read_manifest(request.artifacts)
    entry = manifest.require("fused", _file_precision(request.precision))
    drift = entry.accuracy.get("max_levels_vs_three_stage_openvino")
    if isinstance(drift, int) and drift > FUSED_MAX_LEVELS:
        # Export ran the fused model on OpenVINO and found it off by more than the floor (its float32 Canny
        # can flip single edge pixels where ONNX Runtime's does not): refuse instead of painting differently.
        raise DependencyError(
            f"the fused model differs from the three-stage run by up to {drift} levels on OpenVINO (export's "
            f"check, > {FUSED_MAX_LEVELS}); run it on ONNX Runtime (--backend onnxruntime) or drop --fused"
        )
    path = verify_file(request.artifacts, entry)
    return OpenVinoEngine(path, request.precision, request.threads, model_cache(Path(request.artifacts)))


def devices() -> list[str]:
    """OpenVINO's devices with their full names (doctor)."""
    import openvino as ov

    core = ov.Core()
    return [f"{d}: {core.get_property(d, 'FULL_DEVICE_NAME')}" for d in core.available_devices]
