"""The CUDA devices, driver and TensorRT version of this machine (probed lazily, never at import).

``cuda_probe`` asks the driver itself (cuda-python's ``cudaGetDeviceCount`` / ``cudaDriverGetVersion``
when installed, else ``nvidia-smi``), so a CPU build of PyTorch on a GPU machine does not hide the
GPU, and a GPU build on a CPU machine does not invent one.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass

from edgeinpaint.core.errors import DependencyError
from edgeinpaint.core.sidecar import Device

#: What to install for native TensorRT, by driver generation (README "GPU").
INSTALL_HINT = (
    "pip install 'edgeinpaint[cuda12]' for NVIDIA drivers R525-R575 (CUDA 12), 'edgeinpaint[cuda13]' for "
    "R580+ (CUDA 13); from a clone: pip install -e '.[cuda12]'"
)


@dataclass(frozen=True)
class CudaProbe:
    """What the driver reports.

    Attributes:
        devices: GPU names (empty: none visible). driver: driver version string or None.
        cuda_driver: highest CUDA version the driver supports ("12.8") or None.
        source: how it was found ("cuda-python", "nvidia-smi" or "none"). problem: why not, if none.
    """

    devices: tuple[str, ...]
    driver: str | None
    cuda_driver: str | None
    source: str
    problem: str | None = None


@functools.cache
def cuda_probe() -> CudaProbe:
    """Ask the driver which GPUs exist (cached)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        cudart = None
    if cudart is not None:
        err, count = cudart.cudaGetDeviceCount()
        if int(err) == 0 and count > 0:
            names = []
            for i in range(count):
                _, props = cudart.cudaGetDeviceProperties(i)
                raw = props.name
                names.append(raw.decode(errors="replace").strip("\x00") if isinstance(raw, bytes) else str(raw))
            _, version = cudart.cudaDriverGetVersion()
            return CudaProbe(tuple(names), _smi_driver(), f"{version // 1000}.{(version % 1000) // 10}", "cuda-python")
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return CudaProbe((), None, None, "none", f"nvidia-smi failed: {exc}")
        rows = [r.split(",") for r in out.stdout.strip().splitlines() if r.strip()]
        if out.returncode == 0 and rows:
            return CudaProbe(tuple(r[0].strip() for r in rows), rows[0][-1].strip(), None, "nvidia-smi")
        return CudaProbe((), None, None, "none", (out.stderr or out.stdout).strip()[:200] or "nvidia-smi: no GPU")
    return CudaProbe((), None, None, "none", "no NVIDIA driver (no nvidia-smi, no cuda-python device)")


def _smi_driver() -> str | None:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def current_device() -> Device:
    """TensorRT / CUDA versions and the first GPU (cuda-python's runtime bindings)."""
    try:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart
    except ImportError as exc:
        raise DependencyError(
            f"TensorRT engines need `tensorrt` and `cuda-python` on a machine with an NVIDIA GPU ({INSTALL_HINT}); "
            "use --no-engine for ONNX-only artifacts"
        ) from exc
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count == 0:
        raise DependencyError("no CUDA device visible; use --no-engine for ONNX-only artifacts")
    err, props = cudart.cudaGetDeviceProperties(0)
    err, version = cudart.cudaRuntimeGetVersion()
    name = props.name.decode(errors="replace").strip("\x00") if isinstance(props.name, bytes) else str(props.name)
    return Device(
        tensorrt=str(trt.__version__),
        cuda=f"{version // 1000}.{(version % 1000) // 10}",
        gpu=name,
        compute_capability=f"{props.major}.{props.minor}",
    )


def tensorrt_available() -> bool:
    """True when TensorRT and cuda-python import and a GPU is visible (the `--engine` default)."""
    try:
        current_device()
    except Exception:  # any failure to import or query means: no TensorRT here
        return False
    return True
