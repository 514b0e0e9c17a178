"""The TensorRT engine build's control flow, on the CPU: a fake ``tensorrt`` module with the documented API
surface (TensorRT 10/11 Python API: Builder, OnnxParser, IBuilderConfig, ITimingCache).

Verified: TF32 is cleared for graphs with Canny inside (and only there; the cache key says so), a timing cache
TensorRT refuses is replaced by a fresh one, and no cache file is written when TensorRT keeps none."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from edgeinpaint.core.sidecar import Device, ShapeProfile, engine_cache_key

DEVICE = Device(tensorrt="10.13.0", cuda="12.9", gpu="fake", compute_capability="8.9")


class FakeConfig:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state, self.cleared, self.caches = state, [], []
        self.builder_optimization_level = 0

    def set_memory_pool_limit(self, pool: Any, size: int) -> None:
        pass

    def clear_flag(self, flag: str) -> None:
        self.cleared.append(flag)
        self.state["cleared"] = self.cleared

    def add_optimization_profile(self, profile: Any) -> None:
        pass

    def create_timing_cache(self, data: bytes) -> bytes:
        return data

    def set_timing_cache(self, cache: bytes, ignore_mismatch: bool) -> bool:
        self.caches.append(cache)
        self.state["caches"] = self.caches
        return cache == b"" or not self.state["refuse_cache"]  # TensorRT returns False for a mismatched cache

    def get_timing_cache(self) -> Any:
        return None if self.state["no_cache"] else types.SimpleNamespace(serialize=lambda: b"timing")


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"refuse_cache": False, "no_cache": False}
    trt = types.ModuleType("tensorrt")
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})  # type: ignore[attr-defined]
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=0)  # type: ignore[attr-defined]
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)  # type: ignore[attr-defined]
    trt.BuilderFlag = types.SimpleNamespace(TF32="TF32")  # type: ignore[attr-defined]

    class Parser:
        num_errors = 0

        def __init__(self, network: Any, logger: Any) -> None:
            pass

        def parse_from_file(self, path: str) -> bool:
            return True

    class Builder:
        def __init__(self, logger: Any) -> None:
            pass

        def create_network(self, flags: int) -> object:
            return object()

        def create_builder_config(self) -> FakeConfig:
            return FakeConfig(state)

        def create_optimization_profile(self) -> Any:
            return types.SimpleNamespace(set_shape=lambda *a: None)

        def build_serialized_network(self, network: Any, config: Any) -> bytes:
            return b"plan"

    trt.OnnxParser, trt.Builder = Parser, Builder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    return state


def build(tmp_path: Path, tf32: bool) -> Any:
    from edgeinpaint.export.tensorrt import build_engine

    (tmp_path / "m.onnx").write_bytes(b"onnx")
    inputs = {"x": (1, "NCHW")}
    return build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", inputs, "fp32", ShapeProfile(), "abc",
                        device=DEVICE, tf32=tf32)  # fmt: skip


def test_tf32_is_cleared_only_where_asked_and_keyed(fake_trt: dict[str, Any], tmp_path: Path) -> None:
    with_tf32 = build(tmp_path, tf32=True)
    assert "cleared" not in fake_trt
    without = build(tmp_path, tf32=False)
    assert fake_trt["cleared"] == ["TF32"]
    assert with_tf32.cache_key == engine_cache_key("abc", "fp32", ShapeProfile(), 4.0, 3, DEVICE)  # unchanged
    assert without.cache_key != with_tf32.cache_key  # a Canny engine built with TF32 is rebuilt


def test_a_refused_or_missing_timing_cache(fake_trt: dict[str, Any], tmp_path: Path) -> None:
    from edgeinpaint.core.sidecar import timing_cache_name

    cache = tmp_path / timing_cache_name(DEVICE)
    cache.write_bytes(b"stale")
    fake_trt["refuse_cache"] = True
    build(tmp_path, tf32=True)
    assert fake_trt["caches"] == [b"stale", b""]  # refused, then a fresh one
    assert cache.read_bytes() == b"timing"
    cache.unlink()
    fake_trt["no_cache"] = True
    build(tmp_path, tf32=True)
    assert not cache.exists()  # nothing to write, and no crash on None
