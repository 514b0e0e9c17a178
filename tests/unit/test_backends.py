"""Backend table: auto picks the first available in speed order and says why; explicit requests fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinpaint.errors import DependencyError
from edgeinpaint.runtime import backends
from edgeinpaint.specs import Backend


def test_auto_on_this_cpu_machine_picks_onnxruntime() -> None:
    chosen, why = backends.resolve_backend(Backend.AUTO)
    assert chosen is Backend.ONNXRUNTIME
    assert "auto picked onnxruntime" in why and "skipped" in why


def test_auto_prefers_the_fastest_available(monkeypatch: pytest.MonkeyPatch) -> None:
    table = dict(backends.TABLE)
    table[Backend.ONNXRUNTIME_CUDA] = backends.BackendEntry(Backend.ONNXRUNTIME_CUDA, lambda _a: None, "cuda")
    monkeypatch.setattr(backends, "TABLE", table)
    assert backends.resolve_backend(Backend.AUTO)[0] is Backend.ONNXRUNTIME_CUDA
    table[Backend.TENSORRT] = backends.BackendEntry(Backend.TENSORRT, lambda _a: None, "trt")
    assert backends.resolve_backend(Backend.AUTO)[0] is Backend.TENSORRT


def test_unavailable_explicit_backend_is_a_clear_error() -> None:
    with pytest.raises(DependencyError, match="--backend onnxruntime-cuda is unavailable"):
        backends.resolve_backend(Backend.ONNXRUNTIME_CUDA)
    with pytest.raises(DependencyError, match="tensorrt"):
        backends.resolve_backend(Backend.TENSORRT)


def test_tensorrt_ep_caches_live_in_the_artifacts(tmp_path: Path) -> None:
    providers = backends.ort_provider_options(Backend.ONNXRUNTIME_TENSORRT, tmp_path)
    assert [p[0] for p in providers] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers[0][1]["trt_engine_cache_path"] == str(tmp_path / "trt_ep_cache")
