"""TensorRT engine sidecars and optimization profiles: what an engine is tied to (plain Python).

Export writes these next to each ``*.engine``; the runtime reads them to refuse an engine built
for another TensorRT, GPU architecture or ONNX file. Nothing here imports TensorRT.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeinpaint.core.errors import ArtifactError, ExportError

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

    # Wide by default: whole images up to the HD trigger and the HD strategy's crop boxes (from a
    # few dozen pixels) must all fit, or TensorRT refuses the shape (set_input_shape -> False). Batch up
    # to 4 (the server's default batch): buffers are sized at the profile's maximum, and batch 8 x 2048²
    # cost a paper-width generator several GiB; larger batches run in chunks, same results.
    batch: AxisRange = AxisRange(1, 1, 4)
    height: AxisRange = AxisRange(16, 512, 2048)
    width: AxisRange = AxisRange(16, 512, 2048)

    def dims(self, channels: int, layout: str = "NCHW") -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) shapes of a tensor with ``channels`` channels."""

        def one(k: str) -> tuple[int, ...]:
            n, h, w = (getattr(getattr(self, a), k) for a in AXES)
            return (n, channels, h, w) if layout == "NCHW" else (n, h, w, channels)

        return one("min"), one("opt"), one("max")

    def to_json(self) -> dict[str, list[int]]:
        return {a: [r.min, r.opt, r.max] for a, r in ((a, getattr(self, a)) for a in AXES)}


def profile_problem(shape: tuple[int, ...], lo: tuple[int, ...], hi: tuple[int, ...]) -> str | None:
    """None when ``shape`` lies within the profile's [lo, hi] on every axis, else which axis does not."""
    if len(shape) != len(lo):
        return f"rank {len(shape)}, the engine's is {len(lo)}"
    for axis, (v, a, b) in enumerate(zip(shape, lo, hi, strict=True)):
        if not a <= v <= b:
            return f"axis {axis} is {v}, the profile allows {a}..{b}"
    return None


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
    #: sha256 of the serialized engine, checked before the engine is read (TensorRT deserializes it;
    #: Triton's tensorrt_plan backend loads it): a swapped or truncated plan is refused.
    engine_sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineSidecar:
        return cls(**{**data, "device": Device(**data["device"])})


#: A sidecar is a few hundred bytes; anything much larger is not one.
SIDECAR_MAX_BYTES = 1 << 20


def read_engine(engine_path: Path, artifacts: Path, rebuild: str) -> tuple[bytes, EngineSidecar]:
    """The engine's bytes and sidecar, after the artifact rules: both regular files directly in
    ``artifacts`` (no symlink, nothing outside), the sidecar small and well-formed, and the engine's
    sha256 the one its sidecar recorded at build.

    Raises:
        ArtifactError: missing, a symlink or not a regular file, outside ``artifacts``, a malformed or
            oversized sidecar, a sidecar without the engine's sha256 (an older build), or bytes that
            do not match it; the message names the file and the command that rebuilds it.
    """
    import stat

    sidecar_path = engine_path.with_suffix(".engine.json")
    for path in (engine_path, sidecar_path):
        if path.parent.resolve() != Path(artifacts).resolve() or path.parent.is_symlink():
            raise ArtifactError(f"{path}: engines must lie directly in the artifacts folder {artifacts}")
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            raise ArtifactError(f"{path}: missing. Build it with: {rebuild}") from None
        if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
            raise ArtifactError(f"{path}: is a symlink or not a regular file; artifact files must be regular files")
    if sidecar_path.stat().st_size > SIDECAR_MAX_BYTES:
        raise ArtifactError(f"{sidecar_path}: {sidecar_path.stat().st_size:,} bytes; not an engine sidecar")
    try:
        sidecar = EngineSidecar.from_json(json.loads(sidecar_path.read_text()))
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(f"{sidecar_path}: not a valid engine sidecar ({exc}). Rebuild it with: {rebuild}") from None
    if not sidecar.engine_sha256:
        raise ArtifactError(f"{sidecar_path}: records no engine sha256 (an older build). Rebuild it with: {rebuild}")
    data = engine_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sidecar.engine_sha256:
        # Never echo the digest: it would disclose a hash of whatever file the name points at.
        raise ArtifactError(
            f"{engine_path}: sha256 does not match its sidecar (modified or truncated). Rebuild it with: {rebuild}"
        )
    return data, sidecar


def engine_cache_key(
    onnx_sha256: str,
    precision: str,
    profile: ShapeProfile,
    workspace_gib: float,
    level: int,
    device: Device,
    tf32: bool = True,
) -> str:
    """Key of one engine build: any change of input, option, TensorRT version or GPU rebuilds it."""
    fields: list[object] = [onnx_sha256, precision, profile.to_json(), workspace_gib, level, device.tensorrt]
    fields.append(device.compute_capability)
    if not tf32:  # keys of engines built with TF32 (the default) are unchanged
        fields.append("no-tf32")
    payload = json.dumps(fields, sort_keys=True)
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
