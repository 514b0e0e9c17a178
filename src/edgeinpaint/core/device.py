"""The CUDA device and TensorRT version of this machine (cuda-python's runtime bindings, imported lazily)."""

from __future__ import annotations

from edgeinpaint.core.errors import DependencyError
from edgeinpaint.core.sidecar import Device


def current_device() -> Device:
    """TensorRT / CUDA versions and the first GPU (cuda-python's runtime bindings)."""
    try:
        import tensorrt as trt
        from cuda.bindings import runtime as cudart
    except ImportError as exc:
        raise DependencyError(
            "TensorRT engines need `tensorrt` and `cuda-python` on a machine with an NVIDIA GPU "
            "(pip install 'edgeinpaint[gpu]'); use --no-engine for ONNX-only artifacts"
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
    except (DependencyError, Exception):
        return False
    return True
