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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeinpaint.errors import ArtifactError, DependencyError, ExportError

AXES = ("batch", "height", "width")


@dataclass(frozen=True)
class AxisRange:
    """min / opt / max of one dynamic axis."""

    min: int
    opt: int
    max: int


@dataclass(frozen=True)
class ShapeProfile:
    """Dynamic-axis ranges for one optimization profile (N, H, W; channels come from the graph)."""

    batch: AxisRange = AxisRange(1, 1, 8)
    height: AxisRange = AxisRange(256, 512, 1024)
    width: AxisRange = AxisRange(256, 512, 1024)

    def dims(self, channels: int, layout: str = "NCHW") -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) shapes of a tensor with ``channels`` channels."""

        def one(k: str) -> tuple[int, ...]:
            n, h, w = (getattr(getattr(self, a), k) for a in AXES)
            return (n, channels, h, w) if layout == "NCHW" else (n, h, w, channels)

        return one("min"), one("opt"), one("max")

    def to_json(self) -> dict[str, list[int]]:
        return {a: [r.min, r.opt, r.max] for a, r in ((a, getattr(self, a)) for a in AXES)}


def parse_shapes(text: str | None) -> ShapeProfile:
    """Parse ``--shapes`` such as ``batch=1:4:8,height=256:512:1024,width=256:512:1024``.

    Omitted axes keep their defaults; heights and widths must be multiples of 4 (the generators'
    constraint) and min <= opt <= max.
    """
    profile = ShapeProfile()
    if not text:
        return profile
    values: dict[str, AxisRange] = {}
    for part in text.split(","):
        name, sep, spec = part.partition("=")
        name = name.strip()
        if not sep or name not in AXES:
            raise ExportError(f"--shapes {part!r}: expected AXIS=min:opt:max with AXIS in {', '.join(AXES)}")
        try:
            lo, opt, hi = (int(v) for v in spec.split(":"))
        except ValueError:
            raise ExportError(f"--shapes {part!r}: expected three integers min:opt:max") from None
        if not 1 <= lo <= opt <= hi:
            raise ExportError(f"--shapes {part!r}: expected 1 <= min <= opt <= max")
        if name != "batch" and any(v % 4 for v in (lo, opt, hi)):
            raise ExportError(f"--shapes {part!r}: {name} values must be multiples of 4")
        values[name] = AxisRange(lo, opt, hi)
    return ShapeProfile(**{**{a: getattr(profile, a) for a in AXES}, **values})


@dataclass(frozen=True)
class Device:
    """What an engine is tied to."""

    tensorrt: str
    cuda: str
    gpu: str
    compute_capability: str


@dataclass(frozen=True)
class EngineSidecar:
    """``<engine>.json``: how and for what an engine was built."""

    engine: str
    onnx: str
    onnx_sha256: str
    precision: str
    device: Device
    profile: dict[str, list[int]]
    workspace_gib: float
    optimization_level: int
    cache_key: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineSidecar:
        return cls(**{**data, "device": Device(**data["device"])})


def engine_cache_key(
    onnx_sha256: str, precision: str, profile: ShapeProfile, workspace_gib: float, level: int, device: Device
) -> str:
    """Key of one engine build: any change of input, option, TensorRT version or GPU rebuilds it."""
    payload = json.dumps(
        [onnx_sha256, precision, profile.to_json(), workspace_gib, level, device.tensorrt, device.compute_capability],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def engine_up_to_date(engine_path: Path, cache_key: str) -> bool:
    """True when ``engine_path`` and its sidecar exist and the sidecar records ``cache_key``."""
    sidecar = engine_path.with_suffix(".engine.json")
    if not engine_path.is_file() or not sidecar.is_file():
        return False
    try:
        return bool(EngineSidecar.from_json(json.loads(sidecar.read_text())).cache_key == cache_key)
    except (ValueError, TypeError, KeyError):
        return False


def timing_cache_name(device: Device) -> str:
    """Timing caches are only valid for one TensorRT version and one compute capability."""
    return f"timing.trt{device.tensorrt}.sm{device.compute_capability.replace('.', '')}.cache"


def check_compatible(sidecar: EngineSidecar, device: Device, onnx_sha256: str, rebuild: str) -> None:
    """Refuse an engine built for another TensorRT, GPU architecture or ONNX file.

    Args:
        rebuild: the command that rebuilds it (shown in the error).
    """
    problems = []
    if sidecar.device.tensorrt != device.tensorrt:
        problems.append(f"built with TensorRT {sidecar.device.tensorrt}, running {device.tensorrt}")
    if sidecar.device.compute_capability != device.compute_capability:
        problems.append(
            f"built for compute capability {sidecar.device.compute_capability} ({sidecar.device.gpu}), "
            f"this GPU is {device.compute_capability} ({device.gpu})"
        )
    if sidecar.onnx_sha256 != onnx_sha256:
        problems.append(f"built from another {sidecar.onnx} (sha256 differs)")
    if problems:
        raise ArtifactError(f"{sidecar.engine}: {'; '.join(problems)}. Rebuild it with: {rebuild}")


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
) -> EngineSidecar:  # pragma: no cover - needs TensorRT and a GPU
    """Build and serialize one strongly typed engine plus its sidecar.

    Args:
        inputs: input name -> (channels, layout "NCHW" or "NHWC").
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
    trt_profile = builder.create_optimization_profile()
    for name, (channels, layout) in inputs.items():
        trt_profile.set_shape(name, *profile.dims(channels, layout))
    config.add_optimization_profile(trt_profile)
    cache_path = engine_path.parent / timing_cache_name(device)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    engine_path.write_bytes(bytes(serialized))
    cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    sidecar = EngineSidecar(
        engine=engine_path.name,
        onnx=onnx_path.name,
        onnx_sha256=onnx_sha256,
        precision=precision,
        device=device,
        profile=profile.to_json(),
        workspace_gib=workspace_gib,
        optimization_level=optimization_level,
        cache_key=engine_cache_key(onnx_sha256, precision, profile, workspace_gib, optimization_level, device),
    )
    engine_path.with_suffix(".engine.json").write_text(json.dumps(sidecar.to_json(), indent=2))
    return sidecar


def tensorrt_available() -> bool:
    """True when TensorRT and cuda-python import and a GPU is visible (the `--engine` default)."""
    try:
        current_device()
    except (DependencyError, Exception):
        return False
    return True
