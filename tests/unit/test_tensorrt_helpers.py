"""Everything around the TensorRT build that needs no GPU: shapes, profiles, sidecars, cache keys."""

from __future__ import annotations

import pytest

from edgeinpaint.core.errors import ArtifactError, ExportError
from edgeinpaint.core.sidecar import (
    AxisRange,
    Device,
    EngineSidecar,
    ShapeProfile,
    check_compatible,
    engine_cache_key,
    engine_up_to_date,
    parse_shapes,
    timing_cache_name,
)

DEVICE = Device(tensorrt="10.13.0", cuda="12.9", gpu="NVIDIA L4", compute_capability="8.9")


def test_parse_shapes_and_profile_dims() -> None:
    p = parse_shapes("batch=1:4:8,height=256:512:1024")
    assert p.batch == AxisRange(1, 4, 8) and p.height == AxisRange(256, 512, 1024)
    assert p.width == ShapeProfile().width
    assert p.dims(3) == ((1, 3, 256, 16), (4, 3, 512, 512), (8, 3, 1024, 2048))
    assert p.dims(3, "NHWC")[0] == (1, 256, 16, 3)
    assert parse_shapes(None) == ShapeProfile()


@pytest.mark.parametrize(
    "spec,message",
    [
        ("depth=1:2:3", "AXIS="),
        ("batch=1:2", "three integers"),
        ("height=512:256:1024", "min <= opt"),
        ("width=250:256:512", "multiples of 4"),
    ],
)
def test_parse_shapes_errors(spec: str, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        parse_shapes(spec)


def sidecar(**kw: object) -> EngineSidecar:
    base: dict[str, object] = dict(
        engine="inpaint_generator.fp16.engine",
        onnx="inpaint_generator.fp16.onnx",
        onnx_sha256="a" * 64,
        precision="fp16",
        device=DEVICE,
        profile=ShapeProfile().to_json(),
        workspace_gib=4.0,
        optimization_level=3,
    )
    base.update(kw)
    return EngineSidecar(**base)  # type: ignore[arg-type]


def test_sidecar_round_trip_and_compatibility() -> None:
    s = sidecar()
    assert EngineSidecar.from_json(s.to_json()) == s
    check_compatible(s, DEVICE, "a" * 64, "edgeinpaint export …")
    other_gpu = Device("10.13.0", "12.9", "NVIDIA A100", "8.0")
    with pytest.raises(
        ArtifactError, match=r"compute capability 8.9 .* this GPU is 8.0.*Rebuild it with: edgeinpaint export"
    ):
        check_compatible(s, other_gpu, "a" * 64, "edgeinpaint export …")
    with pytest.raises(ArtifactError, match=r"TensorRT 10\.13\.0, running 10\.14\.1"):
        check_compatible(s, Device("10.14.1", "12.9", "NVIDIA L4", "8.9"), "a" * 64, "x")
    with pytest.raises(ArtifactError, match="sha256 differs"):
        check_compatible(s, DEVICE, "b" * 64, "x")


def test_cache_keys_change_with_every_input() -> None:
    base = engine_cache_key("a" * 64, "fp16", ShapeProfile(), 4.0, 3, DEVICE)
    assert base == engine_cache_key("a" * 64, "fp16", ShapeProfile(), 4.0, 3, DEVICE)
    variants = [
        engine_cache_key("b" * 64, "fp16", ShapeProfile(), 4.0, 3, DEVICE),
        engine_cache_key("a" * 64, "int8", ShapeProfile(), 4.0, 3, DEVICE),
        engine_cache_key("a" * 64, "fp16", parse_shapes("batch=1:2:4"), 4.0, 3, DEVICE),
        engine_cache_key("a" * 64, "fp16", ShapeProfile(), 8.0, 3, DEVICE),
        engine_cache_key("a" * 64, "fp16", ShapeProfile(), 4.0, 5, DEVICE),
        engine_cache_key("a" * 64, "fp16", ShapeProfile(), 4.0, 3, Device("10.14.1", "12.9", "NVIDIA L4", "8.9")),
    ]
    assert base not in variants and len(set(variants)) == len(variants)
    assert timing_cache_name(DEVICE) == "timing.trt10.13.0.sm89.cache"


def test_engine_up_to_date_reads_the_sidecar_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    engine = tmp_path / "inpaint_generator.fp16.engine"
    key = engine_cache_key("a" * 64, "fp16", ShapeProfile(), 4.0, 3, DEVICE)
    assert not engine_up_to_date(engine, key)  # nothing built yet
    engine.write_bytes(b"serialized")
    engine.with_suffix(".engine.json").write_text(json.dumps(sidecar(cache_key=key).to_json()))
    assert engine_up_to_date(engine, key)
    other = engine_cache_key("a" * 64, "fp16", parse_shapes("batch=1:2:4"), 4.0, 3, DEVICE)
    assert not engine_up_to_date(engine, other)  # a new profile rebuilds
    engine.with_suffix(".engine.json").write_text("{broken")
    assert not engine_up_to_date(engine, key)


def test_profile_problem_names_the_axis() -> None:
    from edgeinpaint.core.sidecar import profile_problem

    lo, hi = (1, 3, 16, 16), (8, 3, 2048, 2048)
    assert profile_problem((2, 3, 64, 2048), lo, hi) is None
    assert profile_problem((2, 3, 12, 64), lo, hi) == "axis 2 is 12, the profile allows 16..2048"
    assert profile_problem((9, 3, 64, 64), lo, hi) == "axis 0 is 9, the profile allows 1..8"
    assert profile_problem((1, 3, 64), lo, hi) == "rank 3, the engine's is 4"
