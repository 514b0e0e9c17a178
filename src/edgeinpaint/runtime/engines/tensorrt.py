"""Native TensorRT engines with cuda-python (the only runtime module that touches TensorRT/CUDA).

Written against the TensorRT 10.x Python API (``IRuntime.deserialize_cuda_engine``,
``ICudaEngine.num_io_tensors / get_tensor_name / get_tensor_mode / get_tensor_dtype /
get_tensor_profile_shape``, ``IExecutionContext.set_input_shape / get_tensor_shape /
set_tensor_address / execute_async_v3``) and cuda-python's ``cuda.bindings.runtime``, as in
TensorRT's own sample ``samples/python/common_runtime.py`` (which allocates dynamic-shape buffers
once at the profile maximum). The traps, each handled here:

- ``set_input_shape`` returns False for a shape outside the optimization profile: shapes are
  checked against the profile first (:func:`edgeinpaint.core.sidecar.profile_problem`); a batch
  above the profile's maximum runs in chunks, a height/width outside it is an InputError for
  that file (with the ``export --shapes`` that admits it), never an abort of the run;
- device and pinned host buffers are allocated once per I/O tensor at the profile maximum and
  reused for every shape (memory is bounded by the profile, not by the inputs seen);
- one non-blocking stream (``cudaStreamNonBlocking``), so the legacy default stream never
  serialises it; CUDA-graph capture uses ``cudaStreamCaptureModeThreadLocal`` (a global capture
  would fail any CUDA call another thread makes meanwhile); a capture that fails is ended before
  the error propagates, so the stream never stays in capture mode; graphs and their executables
  are destroyed on ``close``;
- every host<->device copy is counted (:class:`TransferStats`) so "one upload, one download per
  batch" is visible in ``bench`` and ``doctor``.
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.engine import Engine, EngineBase, GraphCache
from edgeinpaint.core.errors import ArtifactError, DependencyError, EdgeInpaintError, EngineFailure, InputError
from edgeinpaint.core.manifest import read_manifest
from edgeinpaint.core.sidecar import profile_problem
from edgeinpaint.core.specs import Backend
from edgeinpaint.runtime.engines.base import EngineRequest, installed


def _check(result: Any) -> Any:
    """cuda-python calls return (err, *values): raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EngineFailure(f"CUDA error {err}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclass
class TransferStats:
    """Host<->device traffic and engine calls since the engine was opened."""

    calls: int = 0
    uploads: int = 0
    upload_bytes: int = 0
    downloads: int = 0
    download_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(vars(self))


class SharedScratch:
    """One block of device memory for the activations of engines that never run at the same time.

    The two generators run one after the other (each call synchronizes its stream before it returns), so
    they can share TensorRT's per-context scratch memory: at the default profile each paper-width
    generator would otherwise hold its own (several GiB at batch 8 x 2048²). Engines register their
    size when opened; the block (the largest size) is allocated at the first run and freed with the last
    engine (TensorRT docs, ``ExecutionContextAllocationStrategy.USER_MANAGED``,
    ``IExecutionContext.set_device_memory``).
    """

    def __init__(self, cudart: Any) -> None:
        self.cudart, self.size, self.users = cudart, 0, 0
        self._ptr: Any = None

    def register(self, size: int) -> None:
        if self._ptr is not None:
            raise EngineFailure("scratch memory was allocated before every engine registered its size")
        self.size, self.users = max(self.size, int(size)), self.users + 1

    def pointer(self) -> int:
        if self._ptr is None:
            self._ptr = _check(self.cudart.cudaMalloc(max(1, self.size)))
        return int(self._ptr)

    def release(self) -> None:
        self.users -= 1
        if self.users == 0 and self._ptr is not None:
            self.cudart.cudaFree(self._ptr)
            self._ptr = None


class TensorRTEngine(EngineBase):
    """A serialized strongly typed engine behind the Engine protocol.

    Args:
        engine_path: ``*.engine`` with its ``*.engine.json`` sidecar beside it.
        onnx_sha256: the manifest's sha256 of the ONNX file the engine must have been built from.
        rebuild: command shown when the engine does not fit this machine or a shape its profile.
        cuda_graph: capture and replay CUDA graphs per input shape.
        scratch: device memory shared with engines that never run at the same time (None: its own).
    """

    def __init__(
        self,
        engine_path: Path,
        onnx_sha256: str,
        rebuild: str,
        cuda_graph: bool = False,
        scratch: SharedScratch | None = None,
    ) -> None:
        try:
            import tensorrt as trt
            from cuda.bindings import runtime as cudart
        except ImportError as exc:
            raise DependencyError(
                "--backend tensorrt needs `tensorrt` and `cuda-python`: pip install 'edgeinpaint[cuda12]' "
                "(or -e '.[cuda12]' from a clone; [cuda13] for R580+ drivers)"
            ) from exc
        from edgeinpaint.core.device import current_device
        from edgeinpaint.core.sidecar import check_compatible, read_engine

        # Confined, regular, and the bytes its sidecar recorded (core/sidecar.py), before TensorRT reads them.
        plan, sidecar = read_engine(engine_path, engine_path.parent, rebuild)
        check_compatible(sidecar, current_device(), onnx_sha256, rebuild)
        self.cudart, self.rebuild, self.path = cudart, rebuild, engine_path
        self.stats = TransferStats()
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise ArtifactError(f"{engine_path}: TensorRT could not deserialize the engine. Rebuild it with: {rebuild}")
        strategies: Any = getattr(trt, "ExecutionContextAllocationStrategy", None)
        self.scratch = scratch if strategies is not None else None
        if self.scratch is not None:
            self.context = self.engine.create_execution_context(strategies.USER_MANAGED)
        else:
            self.context = self.engine.create_execution_context()
        if self.context is None:  # TensorRT returns None (and logs why) when it cannot, e.g. out of device memory
            raise EngineFailure(
                f"{engine_path.name}: TensorRT could not create an execution context (out of GPU memory? "
                "another process may hold it; a smaller --shapes profile needs less)"
            )
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = tuple(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = tuple(n for n in names if n not in self.input_names)
        self.dtypes = {n: np.dtype(trt.nptype(self.engine.get_tensor_dtype(n))) for n in names}
        # Profile 0: (min, opt, max) per input.
        self.profile = {
            n: tuple(tuple(d) for d in self.engine.get_tensor_profile_shape(n, 0)) for n in self.input_names
        }
        self.stream = _check(cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))
        self.cuda_graph = cuda_graph
        self._graphs: GraphCache[tuple[Any, Any]] = GraphCache(release=self._destroy_graph)
        self._no_graph: set[tuple[tuple[int, ...], ...]] = set()
        self._buffers: dict[str, tuple[int, int, np.ndarray]] = {}
        self._allocate_at_profile_max()
        self._scratch_set = False
        if self.scratch is not None:  # the size at the profile's maximum (TensorRT 10: the _v2 property)
            self.scratch.register(getattr(self.engine, "device_memory_size_v2", None) or self.engine.device_memory_size)

    def _allocate_at_profile_max(self) -> None:
        """One device + one pinned host buffer per I/O tensor, sized for the profile's largest shapes."""
        cudart = self.cudart
        for name in self.input_names:
            if not self.context.set_input_shape(name, self.profile[name][2]):
                raise EngineFailure(f"{self.path}: TensorRT refused its own profile maximum for {name}")
        for name in (*self.input_names, *self.output_names):
            shape = tuple(self.context.get_tensor_shape(name))
            count = int(np.prod(shape))
            nbytes = max(1, count * self.dtypes[name].itemsize)
            device = _check(cudart.cudaMalloc(nbytes))
            host_ptr = _check(cudart.cudaMallocHost(nbytes))
            ctype = np.ctypeslib.as_ctypes_type(self.dtypes[name])
            host = np.ctypeslib.as_array(ctypes.cast(host_ptr, ctypes.POINTER(ctype)), (count,))
            self._buffers[name] = (device, host_ptr, host)
            self.context.set_tensor_address(name, device)

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        batch = int(np.shape(feeds[self.input_names[0]])[0])
        max_batch = min(self.profile[n][2][0] for n in self.input_names)
        if batch > max_batch:  # the profile's batch limit: run in chunks, same results
            parts = [self._run({k: v[i : i + max_batch] for k, v in feeds.items()}) for i in range(0, batch, max_batch)]
            return {n: np.concatenate([p[n] for p in parts]) for n in self.output_names}
        return self._run_fitting(feeds)

    def _run_fitting(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        cudart = self.cudart
        if self.scratch is not None and not self._scratch_set:
            self.context.set_device_memory(self.scratch.pointer(), self.scratch.size)
            self._scratch_set = True
        shapes = {n: tuple(int(d) for d in np.shape(feeds[n])) for n in self.input_names}
        for name, shape in shapes.items():
            lo, _opt, hi = self.profile[name]
            problem = profile_problem(shape, lo, hi)
            if problem is not None:
                raise InputError(
                    f"engine input {name} of shape {shape} is outside {self.path.name}'s profile ({problem}); "
                    f"rebuild with a wider --shapes: {self.rebuild} --shapes ..."
                )
            if not self.context.set_input_shape(name, shape):
                raise InputError(f"TensorRT refused input {name} of shape {shape} for {self.path.name}")
        out_shapes = {n: tuple(self.context.get_tensor_shape(n)) for n in self.output_names}
        for name in self.input_names:
            host = self._buffers[name][2]
            host[: int(np.prod(shapes[name]))] = np.ascontiguousarray(feeds[name], dtype=self.dtypes[name]).ravel()
        key = tuple(shapes[n] for n in self.input_names)
        if self.cuda_graph and key not in self._no_graph:
            self._launch_graph(key, shapes, out_shapes)
        else:
            self._eager(shapes, out_shapes)
        _check(cudart.cudaStreamSynchronize(self.stream))
        self.stats.calls += 1
        return {
            n: self._buffers[n][2][: int(np.prod(out_shapes[n]))].reshape(out_shapes[n]).copy()
            for n in self.output_names
        }

    def _enqueue(self, shapes: Mapping[str, tuple[int, ...]], out_shapes: Mapping[str, tuple[int, ...]]) -> bool:
        """Copy in, execute, copy out on the stream. False when TensorRT refuses to enqueue: under stream
        capture that means this engine cannot be captured (``execute_async_v3`` returns False, as trtexec's
        --useCudaGraph fallback expects), otherwise the execution failed."""
        cudart = self.cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self.input_names:
            device, host_ptr, _ = self._buffers[name]
            nbytes = int(np.prod(shapes[name])) * self.dtypes[name].itemsize
            _check(cudart.cudaMemcpyAsync(device, host_ptr, nbytes, h2d, self.stream))
            self.stats.uploads += 1
            self.stats.upload_bytes += nbytes
        if not self.context.execute_async_v3(self.stream):
            return False
        for name in self.output_names:
            device, host_ptr, _ = self._buffers[name]
            nbytes = int(np.prod(out_shapes[name])) * self.dtypes[name].itemsize
            _check(cudart.cudaMemcpyAsync(host_ptr, device, nbytes, d2h, self.stream))
            self.stats.downloads += 1
            self.stats.download_bytes += nbytes
        return True

    def _eager(self, shapes: Mapping[str, tuple[int, ...]], out_shapes: Mapping[str, tuple[int, ...]]) -> None:
        if not self._enqueue(shapes, out_shapes):
            raise EngineFailure(f"{self.path.name}: TensorRT execution failed (see the TensorRT log)")

    def _launch_graph(
        self,
        key: tuple[tuple[int, ...], ...],
        shapes: Mapping[str, tuple[int, ...]],
        out_shapes: Mapping[str, tuple[int, ...]],
    ) -> None:
        """Replay this shape's CUDA graph; the first call runs eagerly (its outputs are this call's), then
        records one. A capture TensorRT refuses leaves this call's eager result in place and the shape runs
        eagerly from then on (the graph the capture returned, if any, is destroyed)."""
        cudart = self.cudart
        if key not in self._graphs:
            self._eager(shapes, out_shapes)  # the first run also initialises TensorRT's lazy state
            _check(cudart.cudaStreamSynchronize(self.stream))
            counted = dataclasses.replace(self.stats)  # the recording is not traffic: the replays count
            mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
            _check(cudart.cudaStreamBeginCapture(self.stream, mode))
            captured = False
            try:
                captured = self._enqueue(shapes, out_shapes)
            finally:
                err, graph = cudart.cudaStreamEndCapture(self.stream)[:2]  # never leave the stream capturing
                self.stats = counted
            if not captured or int(err) != 0 or graph is None:
                if graph is not None:
                    cudart.cudaGraphDestroy(graph)
                self._no_graph.add(key)
                return
            self._graphs.put(key, (graph, _check(cudart.cudaGraphInstantiate(graph, 0))))
            return
        _check(cudart.cudaGraphLaunch(self._graphs.get(key)[1], self.stream))
        self.stats.uploads += len(self.input_names)
        self.stats.downloads += len(self.output_names)
        self.stats.upload_bytes += sum(int(np.prod(shapes[n])) * self.dtypes[n].itemsize for n in self.input_names)
        self.stats.download_bytes += sum(
            int(np.prod(out_shapes[n])) * self.dtypes[n].itemsize for n in self.output_names
        )

    def _destroy_graph(self, graph_and_exec: tuple[Any, Any]) -> None:
        graph, graph_exec = graph_and_exec
        self.cudart.cudaGraphExecDestroy(graph_exec)
        self.cudart.cudaGraphDestroy(graph)

    def _release(self) -> None:
        cudart = self.cudart
        self._graphs.clear()
        for device, host_ptr, _ in self._buffers.values():
            cudart.cudaFree(device)
            cudart.cudaFreeHost(host_ptr)
        self._buffers.clear()
        if self.scratch is not None:
            self.scratch.release()
        cudart.cudaStreamDestroy(self.stream)
        del self.context, self.engine


def _engine_path(onnx: Path) -> Path:
    """The engine built from an exported ONNX file lies beside it."""
    return onnx.with_name(onnx.name.replace(".onnx", ".engine"))


def unavailable(request: EngineRequest) -> str | None:
    """None when TensorRT, cuda-python and a GPU are here and both generators' engines of ``request.precision``
    exist with their sidecars, else why not."""
    if not installed("tensorrt", "cuda"):
        return "tensorrt / cuda-python not installed"
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
        engine = _engine_path(request.artifacts / entry.file)
        if not engine.is_file() or not engine.with_suffix(".engine.json").is_file():
            return f"no {engine.name} in {request.artifacts} (export with --engine)"
    return None


def rebuild_command(request: EngineRequest) -> str:
    """The export command that rebuilds the request's engines (told when one is stale or foreign)."""
    assert request.artifacts is not None
    weights = (request.manifest or read_manifest(request.artifacts)).weights.get("path")
    precision = request.precision.value
    return f"edgeinpaint export --weights {weights} --output {request.artifacts} --precision {precision} --engine"


def open_generators(request: EngineRequest) -> tuple[Engine, Engine]:
    """Both generators' engines, each checked against its ONNX file's sha256 and this machine."""
    verified = [request.artifact(role, Backend.TENSORRT) for role in ("edge_generator", "inpaint_generator")]
    rebuild = rebuild_command(request)
    engines: list[Engine] = []
    try:
        from cuda.bindings import runtime as cudart

        scratch: SharedScratch | None = SharedScratch(cudart)  # the generators run one after the other
    except ImportError:  # the engine itself says what to install
        scratch = None
    for entry, onnx in verified:
        try:
            path = _engine_path(onnx)
            engines.append(TensorRTEngine(path, entry.sha256, rebuild, cuda_graph=request.cuda_graph, scratch=scratch))
        except EdgeInpaintError:
            for e in engines:
                e.close()
            raise
    return engines[0], engines[1]


def open_fused(request: EngineRequest) -> Engine:  # pragma: no cover - needs an NVIDIA GPU
    """The fused model's engine: Canny, both generators and the composites in one engine, so a batch
    is one upload (image + mask) and one download (picture + raw output), nothing in between."""
    entry, onnx = request.artifact("fused", Backend.TENSORRT)
    return TensorRTEngine(_engine_path(onnx), entry.sha256, rebuild_command(request), request.cuda_graph)
