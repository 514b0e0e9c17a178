"""ONNX Runtime backends: CPU, CUDA and TensorRT execution providers (one row each in the engine table)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from edgeinpaint.core.engine import Engine
from edgeinpaint.core.onnxruntime import OnnxRuntimeEngine, Provider
from edgeinpaint.core.sidecar import ShapeProfile
from edgeinpaint.core.specs import Backend, Precision
from edgeinpaint.runtime.engines.base import EngineRequest

#: ONNX Runtime execution providers per ORT backend, in priority order.
ORT_PROVIDERS = {
    Backend.ONNXRUNTIME: ("CPUExecutionProvider",),
    Backend.ONNXRUNTIME_CUDA: ("CUDAExecutionProvider", "CPUExecutionProvider"),
    Backend.ONNXRUNTIME_TENSORRT: ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}


@functools.cache
def load_gpu_libraries(tensorrt: bool) -> None:
    """Load the CUDA / cuDNN (and TensorRT) libraries pip installed, before a GPU provider is created.

    The provider libraries find their NEEDED sonames (libcudart, libcudnn, libnvinfer) only once these
    are loaded: ``onnxruntime.preload_dlls()`` (ORT >= 1.21; it loads the nvidia-* wheels that
    ``onnxruntime-gpu[cuda,cudnn]`` installs, and coexists with PyTorch's: microsoft/onnxruntime#23744)
    and, for the TensorRT provider, ``import tensorrt_libs`` (the tensorrt-cu1x wheels' libnvinfer).
    Either may be absent (system CUDA on the library path): then nothing is done here.
    """
    import contextlib

    import onnxruntime as ort

    with contextlib.suppress(Exception):  # missing wheels: the provider reports what it cannot load
        ort.preload_dlls()
    if tensorrt:
        with contextlib.suppress(ImportError):
            import tensorrt_libs  # noqa: F401


@functools.cache
def provider_loads(name: str) -> str | None:
    """None when execution provider ``name`` really activates on a tiny session, else why not.

    ``ort.get_available_providers()`` lists what the wheel was built with (onnxruntime-gpu lists
    CUDA and TensorRT even with no GPU or no CUDA libraries); ORT then falls back to the CPU
    silently. Only a session shows what loads (ONNX Runtime docs, "Execution Providers").
    """
    import onnxruntime as ort
    from onnx import TensorProto, helper

    if name not in ort.get_available_providers():
        return f"ONNX Runtime has no {name} (providers: {', '.join(ort.get_available_providers())})"
    if name != "CPUExecutionProvider":
        load_gpu_libraries(name == "TensorrtExecutionProvider")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    try:
        session = ort.InferenceSession(
            model.SerializeToString(),
            providers=[name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"],
        )
    except Exception as exc:  # a provider that fails to initialise raises various ORT errors
        return f"{name} is listed but does not load ({str(exc).splitlines()[0][:120]})"
    if name not in session.get_providers():
        return f"{name} is listed but does not load (no GPU, or its CUDA/TensorRT libraries are missing)"
    return None


def trt_profile_options(inputs: list[dict[str, Any]], profile: ShapeProfile) -> dict[str, str]:
    """``trt_profile_{min,opt,max}_shapes`` for ONNX Runtime's TensorRT EP from the graph's inputs.

    Without explicit profiles the EP builds an engine for the first shape it sees and rebuilds on
    every new height/width (ONNX Runtime docs, TensorRT Execution Provider, "Explicit shape range
    for dynamic shape input"); with them, one engine covers the whole range.
    """
    out = {}
    for key, index in (("min", 0), ("opt", 1), ("max", 2)):
        dims = []
        for spec in inputs:
            nhwc = not isinstance(spec["shape"][1], int)  # the fused model's uint8 inputs: (N, H, W, C)
            channels = int(spec["shape"][3] if nhwc else spec["shape"][1])
            shape = profile.dims(channels, "NHWC" if nhwc else "NCHW")[index]
            dims.append(f"{spec['name']}:{'x'.join(str(d) for d in shape)}")
        out[f"trt_profile_{key}_shapes"] = ",".join(dims)
    return out


def ort_provider_options(
    backend: Backend,
    artifacts: Path,
    inputs: list[dict[str, Any]] | None = None,
    profile: ShapeProfile | None = None,
    precision: Precision = Precision.FP32,
) -> list[Provider]:
    """Providers with options; the TensorRT EP keeps its engine and timing caches in the artifacts dir.

    The TensorRT EP builds weakly typed networks with TensorRT 10 (the version it links): FP16 tensors
    get FP16 kernels only with ``trt_fp16_enable``, and Q/DQ graphs are refused ("int8 is not configured")
    without ``trt_int8_enable`` (ONNX Runtime docs, TensorRT Execution Provider options; TensorRT 10
    docs, "Explicit Quantization": weakly typed networks need the INT8 flag).
    """
    providers: list[Provider] = []
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
            if inputs:
                options.update(trt_profile_options(inputs, profile or ShapeProfile()))
            if precision in (Precision.FP16, Precision.INT8):
                options["trt_fp16_enable"] = "True"  # INT8 graphs keep some layers in float: FP16 there
            if precision is Precision.INT8:
                options["trt_int8_enable"] = "True"
        providers.append((name, options))
    if backend is not Backend.ONNXRUNTIME:
        load_gpu_libraries(backend is Backend.ONNXRUNTIME_TENSORRT)
    return providers


def unavailable(backend: Backend, request: EngineRequest) -> str | None:
    """None when ``backend``'s first provider really loads here (a session is opened), else why not."""
    if request.precision is Precision.BF16:
        return "bf16 is an inference precision of OpenVINO (CPU) and torch-cuda, not of ONNX Runtime"
    return provider_loads(ORT_PROVIDERS[backend][0])


def open_generators(backend: Backend, request: EngineRequest) -> tuple[Engine, Engine]:
    """Both generators of ``request.precision`` from the (sha256-verified) artifacts."""
    edge, inpaint = (_open(backend, request, role) for role in ("edge_generator", "inpaint_generator"))
    return edge, inpaint


def open_fused(backend: Backend, request: EngineRequest) -> Engine:
    """The fused single-file model of ``request.precision`` (export/fused.py) on ``backend``'s providers."""
    return _open(backend, request, "fused")


def _open(backend: Backend, request: EngineRequest, role: str) -> Engine:
    """One exported file on ``backend``'s providers; its inputs give the TensorRT EP its shape profile (the
    fused model's NHWC uint8 or NCHW float too): without one the EP builds an engine per new image size."""
    entry, path = request.artifact(role, backend)
    assert request.artifacts is not None
    providers = ort_provider_options(backend, request.artifacts, entry.inputs, precision=request.precision)
    return OnnxRuntimeEngine(path, providers=providers, threads=request.threads)
