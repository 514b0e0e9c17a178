"""TensorRT engines from the exported ONNX files (the only module that imports tensorrt to build).

Written against the TensorRT 10.x / 11.x Python API (docs.nvidia.com/deeplearning/tensorrt,
"Builder", "OnnxParser", "IBuilderConfig", "ITimingCache"):

- precision lives in the ONNX (FP16 casts, INT8 Q/DQ), so the network is *strongly typed*: in
  TensorRT 10 that is ``1 << NetworkDefinitionCreationFlag.STRONGLY_TYPED``; TensorRT 11 removed the
  FP16/INT8 builder flags and made strong typing the only mode (the flag is deprecated and ignored);
- ``OnnxParser.parse_from_file`` (not ``parse``) so external-data ONNX files resolve their weights;
- one optimization profile per engine from ``--shapes``, a workspace limit via
  ``set_memory_pool_limit(MemoryPoolType.WORKSPACE)``, ``builder_optimization_level``;
- a timing cache persisted next to the engines (``create_timing_cache`` / ``set_timing_cache`` /
  ``serialize``), keyed by TensorRT version and compute capability.

Everything that does not need the GPU (shape parsing, profiles, sidecars, compatibility, cache
keys) is plain Python and unit-tested; the build itself can only run on an NVIDIA machine.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from edgeinpaint.core.atomic import write_bytes, write_text
from edgeinpaint.core.device import current_device
from edgeinpaint.core.errors import ExportError
from edgeinpaint.core.sidecar import (
    Device,
    EngineSidecar,
    ShapeProfile,
    engine_cache_key,
    timing_cache_name,
)


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    inputs: dict[str, tuple[int, str]],
    precision: str,
    profile: ShapeProfile,
    onnx_sha256: str,
    workspace_gib: float = 4.0,
    optimization_level: int = 3,
    device: Device | None = None,
    tf32: bool = True,
) -> EngineSidecar:  # pragma: no cover - needs TensorRT and a GPU
    """Build and serialize one strongly typed engine plus its sidecar.

    Args:
        inputs: input name -> (channels, layout "NCHW" or "NHWC").
        tf32: allow TF32 for FP32 convolutions and matmuls (TensorRT's default on Ampere and later). Off for
            graphs with Canny inside: TF32 rounds the inputs to 10-bit mantissas, which moves gradient
            magnitudes across the hysteresis thresholds and flips edges.
    """
    import tensorrt as trt

    device = device or current_device()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if int(device.tensorrt.split(".")[0]) < 11:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"{onnx_path}: TensorRT could not parse the ONNX file: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    config.builder_optimization_level = optimization_level
    if not tf32 and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    trt_profile = builder.create_optimization_profile()
    for name, (channels, layout) in inputs.items():
        trt_profile.set_shape(name, *profile.dims(channels, layout))
    config.add_optimization_profile(trt_profile)
    cache_path = engine_path.parent / timing_cache_name(device)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):  # a cache from another TensorRT or GPU
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    plan = bytes(serialized)
    write_bytes(engine_path, plan)
    timing = config.get_timing_cache()  # None when TensorRT kept none
    if timing is not None:
        write_bytes(cache_path, bytes(timing.serialize()))
    sidecar = EngineSidecar(
        engine=engine_path.name,
        onnx=onnx_path.name,
        onnx_sha256=onnx_sha256,
        precision=precision,
        device=device,
        profile=profile.to_json(),
        workspace_gib=workspace_gib,
        optimization_level=optimization_level,
        cache_key=engine_cache_key(onnx_sha256, precision, profile, workspace_gib, optimization_level, device, tf32),
        engine_sha256=hashlib.sha256(plan).hexdigest(),
    )
    write_text(engine_path.with_suffix(".engine.json"), json.dumps(sidecar.to_json(), indent=2))
    return sidecar
