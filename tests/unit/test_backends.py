"""The engine table: auto picks the fastest backend that really opens and says why; explicit requests fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinpaint.core.errors import DependencyError
from edgeinpaint.core.specs import Backend
from edgeinpaint.runtime import engines
from edgeinpaint.runtime.engines import BackendEntry, EngineRequest, open_engines
from edgeinpaint.runtime.engines.onnxruntime import ort_provider_options, provider_loads


class _Fake:
    input_names = ("x",)
    output_names = ("y",)

    def __init__(self) -> None:
        self.closed = 0

    def run(self, feeds: object) -> dict[str, object]:
        return {}

    def close(self) -> None:
        self.closed += 1


def _entry(
    backend: Backend, unavailable: str | None = None, fails: bool = False, crashes: bool = False
) -> BackendEntry:
    def open_(_r: EngineRequest) -> tuple[_Fake, _Fake]:
        if fails:
            raise DependencyError(f"{backend.value} listed but does not load")
        if crashes:  # what an execution provider or TensorRT raises when it cannot open (not a DependencyError)
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")
        return _Fake(), _Fake()

    return BackendEntry(backend, lambda _r: unavailable, open_, backend.value)  # type: ignore[arg-type]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> dict[Backend, BackendEntry]:
    t = dict(engines.TABLE)
    monkeypatch.setattr(engines, "TABLE", t)
    return t


def test_auto_prefers_the_fastest_available(table: dict[Backend, BackendEntry]) -> None:
    table[Backend.TENSORRT] = _entry(Backend.TENSORRT, "no GPU")
    table[Backend.ONNXRUNTIME_TENSORRT] = _entry(Backend.ONNXRUNTIME_TENSORRT, "no EP")
    table[Backend.ONNXRUNTIME_CUDA] = _entry(Backend.ONNXRUNTIME_CUDA)
    table[Backend.TORCH_CUDA] = _entry(Backend.TORCH_CUDA, "no GPU")
    got = open_engines(Backend.AUTO, EngineRequest())
    assert got.backend is Backend.ONNXRUNTIME_CUDA
    assert "auto picked onnxruntime-cuda" in got.why and "not available here: tensorrt, onnxruntime-tensorrt" in got.why
    table[Backend.TENSORRT] = _entry(Backend.TENSORRT)
    assert open_engines(Backend.AUTO, EngineRequest()).backend is Backend.TENSORRT


def test_auto_falls_through_a_provider_that_is_listed_but_does_not_load(table: dict[Backend, BackendEntry]) -> None:
    # onnxruntime-gpu lists CUDA/TensorRT providers even without a GPU: opening must fail over.
    table[Backend.TENSORRT] = _entry(Backend.TENSORRT, "no GPU")
    table[Backend.ONNXRUNTIME_TENSORRT] = _entry(Backend.ONNXRUNTIME_TENSORRT, fails=True)
    table[Backend.ONNXRUNTIME_CUDA] = _entry(Backend.ONNXRUNTIME_CUDA, fails=True)
    table[Backend.TORCH_CUDA] = _entry(Backend.TORCH_CUDA, "no GPU")
    table[Backend.OPENVINO] = _entry(Backend.OPENVINO, fails=True)
    table[Backend.ONNXRUNTIME] = _entry(Backend.ONNXRUNTIME)
    got = open_engines(Backend.AUTO, EngineRequest())
    assert got.backend is Backend.ONNXRUNTIME
    assert "did not open: onnxruntime-tensorrt: onnxruntime-tensorrt listed but does not load" in got.why


def test_auto_falls_through_an_engine_that_fails_to_open(table: dict[Backend, BackendEntry]) -> None:
    table[Backend.TENSORRT] = _entry(Backend.TENSORRT, crashes=True)
    for backend in (Backend.ONNXRUNTIME_TENSORRT, Backend.ONNXRUNTIME_CUDA, Backend.TORCH_CUDA, Backend.OPENVINO):
        table[backend] = _entry(backend, "not here")
    table[Backend.ONNXRUNTIME] = _entry(Backend.ONNXRUNTIME)
    got = open_engines(Backend.AUTO, EngineRequest())
    assert got.backend is Backend.ONNXRUNTIME
    assert "did not open: tensorrt: RuntimeError: CUDA failure 100" in got.why


def test_unavailable_explicit_backend_is_a_clear_error(table: dict[Backend, BackendEntry]) -> None:
    table[Backend.ONNXRUNTIME_CUDA] = _entry(Backend.ONNXRUNTIME_CUDA, "no CUDAExecutionProvider")
    with pytest.raises(DependencyError, match="--backend onnxruntime-cuda is unavailable: no CUDAExecutionProvider"):
        open_engines(Backend.ONNXRUNTIME_CUDA, EngineRequest())


def test_generators_close_once(table: dict[Backend, BackendEntry]) -> None:
    table[Backend.ONNXRUNTIME] = _entry(Backend.ONNXRUNTIME)
    with open_engines(Backend.ONNXRUNTIME, EngineRequest()) as gens:
        edge = gens.edge
    gens.close()
    assert edge.closed == 1  # type: ignore[attr-defined]


def test_provider_probe_opens_a_session() -> None:
    # The CPU provider always loads; an unknown provider name is reported, not trusted from a list.
    assert provider_loads("CPUExecutionProvider") is None
    assert "has no NoSuchExecutionProvider" in str(provider_loads("NoSuchExecutionProvider"))


def test_tensorrt_ep_caches_live_in_the_artifacts_with_explicit_profiles(tmp_path: Path) -> None:
    from edgeinpaint.core import specs

    inputs = [s.to_json() for s in specs.INPAINT_GENERATOR_INPUTS]
    providers = ort_provider_options(Backend.ONNXRUNTIME_TENSORRT, tmp_path, inputs)
    options = providers[0][1]  # type: ignore[index]
    assert options["trt_profile_min_shapes"] == "image:1x3x16x16,edges:1x1x16x16,mask:1x1x16x16"
    assert options["trt_profile_max_shapes"] == "image:4x3x2048x2048,edges:4x1x2048x2048,mask:4x1x2048x2048"
    assert [p[0] for p in providers] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers[0][1]["trt_engine_cache_path"] == str(tmp_path / "trt_ep_cache")  # type: ignore[index]


def test_tensorrt_ep_gets_the_precision_flags_of_its_graphs(tmp_path: Path) -> None:
    """TensorRT 10 (what ORT's TensorRT EP links) builds weakly typed networks: FP16 kernels need
    trt_fp16_enable, Q/DQ graphs need trt_int8_enable ("int8 is not configured" otherwise)."""
    from edgeinpaint.core.specs import Precision

    def flags(precision: Precision) -> dict[str, str]:
        options = ort_provider_options(Backend.ONNXRUNTIME_TENSORRT, tmp_path, precision=precision)[0][1]
        return {k: v for k, v in options.items() if k in ("trt_fp16_enable", "trt_int8_enable")}  # type: ignore[union-attr]

    assert flags(Precision.FP32) == {}
    assert flags(Precision.FP16) == {"trt_fp16_enable": "True"}
    assert flags(Precision.INT8) == {"trt_fp16_enable": "True", "trt_int8_enable": "True"}


def test_gpu_providers_preload_the_pip_installed_cuda_libraries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """onnxruntime.preload_dlls() runs before a CUDA / TensorRT session (the nvidia-* wheels' libraries are
    not on the loader's path otherwise); a CPU session never loads them."""
    import onnxruntime

    from edgeinpaint.runtime.engines import onnxruntime as ort_engines

    calls: list[str] = []
    monkeypatch.setattr(onnxruntime, "preload_dlls", lambda *a, **k: calls.append("preload"), raising=False)
    ort_engines.load_gpu_libraries.cache_clear()
    ort_provider_options(Backend.ONNXRUNTIME, tmp_path)
    assert calls == []
    ort_provider_options(Backend.ONNXRUNTIME_CUDA, tmp_path)
    ort_provider_options(Backend.ONNXRUNTIME_TENSORRT, tmp_path)
    assert calls == ["preload", "preload"]  # once per flavour (cached)
    ort_engines.load_gpu_libraries.cache_clear()


def test_fused_model_gets_a_tensorrt_ep_profile_in_its_own_layout(tmp_path: Path) -> None:
    from edgeinpaint.core.sidecar import ShapeProfile

    inputs = [{"name": "image", "shape": ["N", "H", "W", 3]}, {"name": "mask", "shape": ["N", "H", "W", 1]}]
    options = ort_provider_options(Backend.ONNXRUNTIME_TENSORRT, tmp_path, inputs, ShapeProfile())[0][1]
    assert options["trt_profile_max_shapes"] == "image:4x2048x2048x3,mask:4x2048x2048x1"  # type: ignore[index]
