"""Native TensorRT engine with cuda-python (the only runtime module that touches TensorRT/CUDA).

Written against the TensorRT 10.x Python API (IRuntime.deserialize_cuda_engine,
ICudaEngine.num_io_tensors / get_tensor_name / get_tensor_mode / get_tensor_dtype,
IExecutionContext.set_input_shape / set_tensor_address / execute_async_v3) and cuda-python's
``cuda.bindings.runtime`` as in TensorRT's own samples (samples/python/common_runtime.py):

- device buffers are allocated once per input shape and reused; host staging buffers are pinned
  (cudaMallocHost) so copies are truly asynchronous;
- H2D copies, execution and D2H copies are queued on one stream, synchronised once per call;
- with ``cuda_graph=True`` the first call for a shape is captured into a CUDA graph and later
  calls of that shape replay it (fixed shapes only: a new shape captures a new graph).

The engine's sidecar (``*.engine.json``) is checked against this machine before loading; a
mismatch is refused with the command that rebuilds it.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.engine import Engine, EngineBase
from edgeinpaint.core.errors import ArtifactError, DependencyError, EdgeInpaintError, EngineFailure
from edgeinpaint.core.manifest import read_manifest, verify_file


def _check(result: Any) -> Any:
    """cuda-python calls return (err, *values): raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EngineFailure(f"CUDA error {err}")
    return values[0] if len(values) == 1 else tuple(values)


class TensorRTEngine(EngineBase):  # pragma: no cover - needs an NVIDIA GPU with TensorRT
    """A serialized strongly typed engine behind the Engine protocol.

    Args:
        engine_path: ``*.engine`` with its ``*.engine.json`` sidecar beside it.
        onnx_sha256: the manifest's sha256 of the ONNX file the engine must have been built from.
        rebuild: command shown when the engine does not fit this machine.
        cuda_graph: capture and replay CUDA graphs per input shape.
    """

    def __init__(self, engine_path: Path, onnx_sha256: str, rebuild: str, cuda_graph: bool = False) -> None:
        try:
            import tensorrt as trt
            from cuda.bindings import runtime as cudart
        except ImportError as exc:
            raise DependencyError(
                "--backend tensorrt needs `tensorrt` and `cuda-python` (pip install 'edgeinpaint[gpu]')"
            ) from exc
        from edgeinpaint.core.device import current_device
        from edgeinpaint.core.sidecar import EngineSidecar, check_compatible

        sidecar_path = engine_path.with_suffix(".engine.json")
        if not engine_path.is_file() or not sidecar_path.is_file():
            raise EdgeInpaintError(f"{engine_path}: engine or sidecar missing. Build it with: {rebuild}")
        check_compatible(
            EngineSidecar.from_json(json.loads(sidecar_path.read_text())), current_device(), onnx_sha256, rebuild
        )
        self.cudart = cudart
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise EdgeInpaintError(
                f"{engine_path}: TensorRT could not deserialize the engine. Rebuild it with: {rebuild}"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = tuple(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = tuple(n for n in names if n not in self.input_names)
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        self.stream = _check(cudart.cudaStreamCreate())
        self.cuda_graph = cuda_graph
        self._buffers: dict[tuple[tuple[int, ...], ...], dict[str, tuple[int, int, np.ndarray]]] = {}
        self._graphs: dict[tuple[tuple[int, ...], ...], Any] = {}

    def _allocate(
        self, key: tuple[tuple[int, ...], ...], shapes: Mapping[str, tuple[int, ...]]
    ) -> dict[str, tuple[int, int, np.ndarray]]:
        cudart = self.cudart
        for name, shape in shapes.items():
            self.context.set_input_shape(name, shape)
        buffers = {}
        for name in (*self.input_names, *self.output_names):
            shape = tuple(self.context.get_tensor_shape(name))
            nbytes = int(np.prod(shape)) * self.dtypes[name].itemsize
            device = _check(cudart.cudaMalloc(nbytes))
            host_ptr = _check(cudart.cudaMallocHost(nbytes))
            ctype = np.ctypeslib.as_ctypes_type(self.dtypes[name])
            host = np.ctypeslib.as_array(ctypes.cast(host_ptr, ctypes.POINTER(ctype)), shape)
            self.context.set_tensor_address(name, device)
            buffers[name] = (device, host_ptr, host)
        self._buffers[key] = buffers
        return buffers

    def _enqueue(self, buffers: dict[str, tuple[int, int, np.ndarray]]) -> None:
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self.input_names:
            device, host_ptr, host = buffers[name]
            _check(cudart.cudaMemcpyAsync(device, host_ptr, host.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise EngineFailure("TensorRT execution failed")
        for name in self.output_names:
            device, host_ptr, host = buffers[name]
            _check(cudart.cudaMemcpyAsync(host_ptr, device, host.nbytes, d2h, self.stream))

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        cudart = self.cudart
        shapes = {n: tuple(feeds[n].shape) for n in self.input_names}
        key = tuple(shapes[n] for n in self.input_names)
        buffers = self._buffers.get(key) or self._allocate(key, shapes)
        for name in self.input_names:
            self.context.set_input_shape(name, shapes[name])
            self.context.set_tensor_address(name, buffers[name][0])
            buffers[name][2][...] = feeds[name].astype(self.dtypes[name], copy=False)
        for name in self.output_names:
            self.context.set_tensor_address(name, buffers[name][0])
        if self.cuda_graph:
            graph_exec = self._graphs.get(key)
            if graph_exec is None:
                self._enqueue(buffers)  # first run also initialises TensorRT's lazy state
                _check(cudart.cudaStreamSynchronize(self.stream))
                _check(
                    cudart.cudaStreamBeginCapture(self.stream, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal)
                )
                self._enqueue(buffers)
                graph = _check(cudart.cudaStreamEndCapture(self.stream))
                graph_exec = _check(cudart.cudaGraphInstantiate(graph, 0))
                self._graphs[key] = graph_exec
            _check(cudart.cudaGraphLaunch(graph_exec, self.stream))
        else:
            self._enqueue(buffers)
        _check(cudart.cudaStreamSynchronize(self.stream))
        return {name: buffers[name][2].copy() for name in self.output_names}

    def _release(self) -> None:
        cudart = self.cudart
        for buffers in self._buffers.values():
            for device, host_ptr, _ in buffers.values():
                cudart.cudaFree(device)
                cudart.cudaFreeHost(host_ptr)
        self._buffers.clear()
        cudart.cudaStreamDestroy(self.stream)


def _engine_path(artifacts: Path, onnx_file: str) -> Path:
    return artifacts / onnx_file.replace(".onnx", ".engine")


def engines_missing(request: Any) -> str | None:
    """None when both generators' engines of ``request.precision`` exist with their sidecars, else why not."""
    from edgeinpaint.core.device import tensorrt_available

    if not tensorrt_available():
        return "no CUDA device visible"
    if request.artifacts is None:
        return "needs an artifacts directory with engines"
    manifest = request.manifest or read_manifest(request.artifacts)
    for role in ("edge_generator", "inpaint_generator"):
        entry = manifest.find(role, request.precision.value)
        if entry is None:
            return f"no {request.precision.value} {role} in {request.artifacts}"
        engine = _engine_path(request.artifacts, entry.file)
        if not engine.is_file() or not engine.with_suffix(".engine.json").is_file():
            return f"no {engine.name} in {request.artifacts} (export with --engine)"
    return None


def open_generators(request: Any) -> tuple[Engine, Engine]:  # pragma: no cover - needs an NVIDIA GPU
    """Both generators' engines, each checked against its ONNX file's sha256 and this machine."""
    if request.artifacts is None:
        raise ArtifactError("--backend tensorrt needs --artifacts or --weights")
    manifest = request.manifest or read_manifest(request.artifacts)
    weights_path = manifest.weights.get("path")
    precision = request.precision.value
    rebuild = (
        f"edgeinpaint export --weights {weights_path} --output {request.artifacts} --precision {precision} --engine"
    )
    engines = []
    for role in ("edge_generator", "inpaint_generator"):
        entry = manifest.require(role, precision)
        verify_file(request.artifacts, entry)
        engines.append(
            TensorRTEngine(
                _engine_path(request.artifacts, entry.file), entry.sha256, rebuild, cuda_graph=request.cuda_graph
            )
        )
    return engines[0], engines[1]
