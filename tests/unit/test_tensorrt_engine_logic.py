"""The native TensorRT engine's control flow, on the CPU: fake ``tensorrt`` and ``cuda.bindings.runtime`` modules
implement the API surface it uses (documented signatures), with host memory standing in for the device.

What is verified here: buffers allocated once at the profile maximum, batches above the profile run in
chunks with the same results, shapes outside the profile are per-file InputErrors, CUDA-graph capture and
replay give the eager results, a failing capture is ended, transfers are counted, close frees everything
(graphs too) and is idempotent. What is not: TensorRT itself, real CUDA semantics.
"""

# ruff: noqa: N801, N802, N815 - the fakes keep cuda-python's names
from __future__ import annotations

import ctypes
import hashlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeinpaint.core.errors import InputError
from edgeinpaint.core.sidecar import Device, EngineSidecar, profile_problem

DEVICE = Device(tensorrt="10.13.0", cuda="12.9", gpu="fake", compute_capability="8.9")
PROFILE = ((1, 1, 4, 4), (1, 1, 8, 8), (2, 1, 16, 16))


class FakeCuda:
    """cuda.bindings.runtime: (err, value) tuples, host memory as 'device' memory, stream capture recorded."""

    cudaStreamNonBlocking = 1

    class cudaMemcpyKind:
        cudaMemcpyHostToDevice = "h2d"
        cudaMemcpyDeviceToHost = "d2h"

    class cudaStreamCaptureMode:
        cudaStreamCaptureModeThreadLocal = "thread-local"
        cudaStreamCaptureModeGlobal = "global"

    def __init__(self) -> None:
        self.buffers: dict[int, Any] = {}
        self.freed: list[int] = []
        self.capturing: list[Any] | None = None
        self.capture_mode: str | None = None
        self.graphs_destroyed = 0
        self.captures = 0
        self.execs_destroyed = 0
        self.streams: list[int] = []

    def _alloc(self, n: int) -> tuple[int, int]:
        buf = ctypes.create_string_buffer(n)
        self.buffers[ctypes.addressof(buf)] = buf
        return 0, ctypes.addressof(buf)

    cudaMalloc = _alloc
    cudaMallocHost = _alloc

    def cudaFree(self, p: int) -> tuple[int]:
        self.freed.append(p)
        return (0,)

    cudaFreeHost = cudaFree

    def cudaStreamCreateWithFlags(self, flags: int) -> tuple[int, int]:
        assert flags == self.cudaStreamNonBlocking
        self.streams.append(7)
        return 0, 7

    def cudaStreamDestroy(self, s: int) -> tuple[int]:
        self.streams.remove(s)
        return (0,)

    def run_or_record(self, op: Any) -> None:
        if self.capturing is not None:
            self.capturing.append(op)
        else:
            op()

    def cudaMemcpyAsync(self, dst: int, src: int, n: int, kind: str, stream: int) -> tuple[int]:
        self.run_or_record(lambda: ctypes.memmove(dst, src, n))
        return (0,)

    def cudaStreamSynchronize(self, s: int) -> tuple[int]:
        return (0,)

    def cudaStreamBeginCapture(self, s: int, mode: str) -> tuple[int]:
        self.capturing, self.capture_mode = [], mode
        self.captures += 1
        return (0,)

    def cudaStreamEndCapture(self, s: int) -> tuple[int, list[Any]]:
        ops, self.capturing = self.capturing, None
        return 0, ops or []

    def cudaGraphInstantiate(self, graph: list[Any], flags: int) -> tuple[int, list[Any]]:
        return 0, list(graph)

    def cudaGraphLaunch(self, graph_exec: list[Any], s: int) -> tuple[int]:
        for op in graph_exec:
            op()
        return (0,)

    def cudaGraphExecDestroy(self, e: Any) -> tuple[int]:
        self.execs_destroyed += 1
        return (0,)

    def cudaGraphDestroy(self, g: Any) -> tuple[int]:
        self.graphs_destroyed += 1
        return (0,)


class FakeContext:
    """y = 2x + 1 on tensors 'x' -> 'y' of the same shape, read from and written to 'device' addresses."""

    def __init__(self, cuda: FakeCuda, fail_in_capture: bool) -> None:
        self.cuda, self.shape, self.addr, self.fail_in_capture = cuda, PROFILE[1], {}, fail_in_capture

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        if profile_problem(tuple(shape), PROFILE[0], PROFILE[2]) is not None:
            return False
        self.shape = tuple(shape)
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shape

    def set_tensor_address(self, name: str, ptr: int) -> None:
        self.addr[name] = ptr

    def execute_async_v3(self, stream: int) -> bool:
        if self.fail_in_capture and self.cuda.capturing is not None:
            return False  # what TensorRT does under a capture it cannot take (no exception)
        shape, x_ptr, y_ptr = self.shape, self.addr["x"], self.addr["y"]
        n = int(np.prod(shape))

        def op() -> None:
            x = np.ctypeslib.as_array(ctypes.cast(x_ptr, ctypes.POINTER(ctypes.c_float)), (n,))
            y = np.ctypeslib.as_array(ctypes.cast(y_ptr, ctypes.POINTER(ctypes.c_float)), (n,))
            y[:] = 2 * x + 1

        self.cuda.run_or_record(op)
        return True


class FakeEngine:
    num_io_tensors = 2

    def __init__(self, cuda: FakeCuda, fail_in_capture: bool, no_context: bool = False) -> None:
        self.cuda, self.fail, self.no_context = cuda, fail_in_capture, no_context

    def get_tensor_name(self, i: int) -> str:
        return ("x", "y")[i]

    def get_tensor_mode(self, name: str) -> str:
        return "in" if name == "x" else "out"

    def get_tensor_dtype(self, name: str) -> str:
        return "float"

    def get_tensor_profile_shape(self, name: str, index: int) -> tuple[tuple[int, ...], ...]:
        return PROFILE

    def create_execution_context(self) -> FakeContext | None:
        if self.no_context:
            return None  # TensorRT's answer when it cannot (out of device memory), not an exception
        return FakeContext(self.cuda, self.fail)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    cuda = FakeCuda()
    state = {"fail_in_capture": False, "no_context": False}
    trt = types.ModuleType("tensorrt")
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})  # type: ignore[attr-defined]
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")  # type: ignore[attr-defined]
    trt.nptype = lambda dt: np.float32  # type: ignore[attr-defined]

    class Runtime:
        def __init__(self, logger: Any) -> None:
            pass

        def deserialize_cuda_engine(self, data: bytes) -> FakeEngine:
            return FakeEngine(cuda, state["fail_in_capture"], state["no_context"])

    trt.Runtime = Runtime  # type: ignore[attr-defined]
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = cuda  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cuda)
    monkeypatch.setattr("edgeinpaint.core.device.current_device", lambda: DEVICE)
    engine_path = tmp_path / "g.engine"
    engine_path.write_bytes(b"serialized")
    sidecar = EngineSidecar(
        "g.engine", "g.onnx", "abc", "fp32", DEVICE, {}, 1.0, 3, engine_sha256=hashlib.sha256(b"serialized").hexdigest()
    )
    engine_path.with_suffix(".engine.json").write_text(json.dumps(sidecar.to_json()))
    return types.SimpleNamespace(cuda=cuda, path=engine_path, state=state)


def open_engine(fake: Any, cuda_graph: bool = False) -> Any:
    from edgeinpaint.runtime.engines.tensorrt import TensorRTEngine

    return TensorRTEngine(fake.path, "abc", "edgeinpaint export ... --engine", cuda_graph=cuda_graph)


def test_buffers_at_the_profile_maximum_and_results(fake: Any) -> None:
    engine = open_engine(fake)
    assert len(fake.cuda.buffers) == 4  # x and y, device + pinned host, allocated once
    for shape in ((1, 1, 8, 8), (2, 1, 4, 12), (1, 1, 16, 16)):
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)
    assert len(fake.cuda.buffers) == 4  # no allocation per shape
    assert engine.stats.calls == 3 and engine.stats.uploads == 3 and engine.stats.downloads == 3
    assert engine.stats.upload_bytes == 4 * (64 + 96 + 256)


def test_batches_above_the_profile_run_in_chunks(fake: Any) -> None:
    engine = open_engine(fake)
    x = np.random.default_rng(1).random((5, 1, 8, 8), dtype=np.float32)  # profile max batch is 2
    assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)
    assert engine.stats.calls == 3


def test_shapes_outside_the_profile_are_input_errors(fake: Any) -> None:
    engine = open_engine(fake)
    with pytest.raises(InputError, match=r"outside g.engine's profile \(axis 3 is 20, the profile allows 4..16\)"):
        engine.run({"x": np.zeros((1, 1, 8, 20), np.float32)})
    with pytest.raises(InputError, match="axis 2 is 2"):
        engine.run({"x": np.zeros((1, 1, 2, 8), np.float32)})
    assert engine.run({"x": np.zeros((1, 1, 8, 8), np.float32)})["y"].shape == (1, 1, 8, 8)  # still usable


def test_cuda_graph_replay_matches_eager_and_is_destroyed(fake: Any) -> None:
    engine = open_engine(fake, cuda_graph=True)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.random((2, 1, 8, 8), dtype=np.float32)
        assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)  # replays read the new inputs
    assert fake.cuda.capture_mode == "thread-local"
    assert engine.stats.uploads == 3 and engine.stats.downloads == 3  # the recording itself is not traffic
    engine.close()
    engine.close()  # idempotent
    assert fake.cuda.graphs_destroyed == 1 and fake.cuda.execs_destroyed == 1
    assert sorted(fake.cuda.freed) == sorted(fake.cuda.buffers) and fake.cuda.streams == []
    with pytest.raises(RuntimeError, match="after close"):
        engine.run({"x": np.zeros((1, 1, 8, 8), np.float32)})


def test_a_refused_capture_keeps_the_result_and_falls_back(fake: Any) -> None:
    """execute_async_v3 returns False under a capture TensorRT cannot take: the call's eager result stands,
    the stream is not left capturing, the returned graph is destroyed, and the shape runs eagerly after."""
    fake.state["fail_in_capture"] = True
    engine = open_engine(fake, cuda_graph=True)
    x = np.ones((1, 1, 8, 8), np.float32)
    assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)
    assert fake.cuda.capturing is None and fake.cuda.graphs_destroyed == 1
    assert np.array_equal(engine.run({"x": 3 * x})["y"], 6 * x + 1)
    assert fake.cuda.captures == 1  # never tried again for that shape
    assert engine.stats.uploads == 2 and engine.stats.downloads == 2  # the aborted recording is not traffic


def test_no_execution_context_is_a_clear_error(fake: Any) -> None:
    from edgeinpaint.core.errors import EngineFailure

    fake.state["no_context"] = True
    with pytest.raises(EngineFailure, match="could not create an execution context"):
        open_engine(fake)


def test_cuda_graphs_are_bounded_and_evicted_ones_destroyed(fake: Any) -> None:
    """Crops make nearly every shape new: the engine keeps the most recently used graphs (core/engine.py
    MAX_GRAPHS) and destroys the ones it evicts; results stay exact."""
    from edgeinpaint.core.engine import MAX_GRAPHS

    engine = open_engine(fake, cuda_graph=True)
    for height in range(4, 17):  # 13 shapes
        for _ in range(2):  # capture, then replay
            x = np.random.default_rng(height).random((1, 1, height, 8), dtype=np.float32)
            assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)
    assert len(engine._graphs) == MAX_GRAPHS
    assert fake.cuda.graphs_destroyed == fake.cuda.execs_destroyed == 13 - MAX_GRAPHS
    engine.close()
    assert fake.cuda.graphs_destroyed == 13


def test_graph_cache_keeps_the_most_recently_used() -> None:
    from edgeinpaint.core.engine import GraphCache

    released: list[str] = []
    cache: GraphCache[str] = GraphCache(2, released.append)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert released == ["B"] and "a" in cache and "c" in cache
    cache.clear()
    assert sorted(released) == ["A", "B", "C"] and len(cache) == 0


def test_generators_share_one_scratch_block(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With TensorRT's USER_MANAGED allocation the two generators (which never run at the same time) get one
    device block of the larger size, set once per context, freed when the last engine closes."""
    from edgeinpaint.runtime.engines.tensorrt import SharedScratch, TensorRTEngine

    trt = sys.modules["tensorrt"]
    trt.ExecutionContextAllocationStrategy = types.SimpleNamespace(USER_MANAGED="user")  # type: ignore[attr-defined]
    sizes = iter([4096, 16384])
    strategies: list[Any] = []
    memory: list[tuple[int, int]] = []
    original = FakeEngine.create_execution_context

    def create(self: FakeEngine, strategy: Any = None) -> FakeContext | None:
        strategies.append(strategy)
        context = original(self)
        assert context is not None
        context.set_device_memory = lambda ptr, size: memory.append((ptr, size))  # type: ignore[attr-defined]
        return context

    monkeypatch.setattr(FakeEngine, "create_execution_context", create)
    monkeypatch.setattr(FakeEngine, "device_memory_size_v2", property(lambda self: next(sizes)), raising=False)
    scratch = SharedScratch(fake.cuda)
    edge = TensorRTEngine(fake.path, "abc", "rebuild", scratch=scratch)
    inpaint = TensorRTEngine(fake.path, "abc", "rebuild", scratch=scratch)
    allocated = len(fake.cuda.buffers)
    x = np.ones((1, 1, 8, 8), np.float32)
    for engine in (edge, inpaint, edge):
        assert np.array_equal(engine.run({"x": x})["y"], 2 * x + 1)
    assert strategies == ["user", "user"] and scratch.size == 16384
    assert len(fake.cuda.buffers) == allocated + 1  # one block for both
    assert len(memory) == 2 and memory[0] == memory[1] and memory[0][1] == 16384  # same block, set once each
    edge.close()
    assert memory[0][0] not in fake.cuda.freed  # still used by the other engine
    inpaint.close()
    assert memory[0][0] in fake.cuda.freed
