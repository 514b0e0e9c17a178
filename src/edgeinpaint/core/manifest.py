"""``manifest.json``: what an artifacts directory holds, and verification when it is loaded.

Every file is recorded with its role, precision, I/O specs, opset and sha256; loading verifies
each sha256 so a tampered or truncated file is refused before it reaches an engine.
"""

from __future__ import annotations

import functools
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from edgeinpaint.core.atomic import write_text
from edgeinpaint.core.errors import ArtifactError, WeightsError
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.params import Blend, CannyParams
from edgeinpaint.core.version import __version__

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class ArtifactFile:
    """One exported file.

    Attributes:
        file: name relative to the artifacts directory.
        role: ``canny``, ``edge_generator``, ``inpaint_generator`` or ``fused``.
        precision: ``fp32``, ``fp16`` or ``int8``.
        inputs / outputs: TensorSpec JSON forms.
        opset: ONNX opset.
        sha256: file digest.
        accuracy: measured accuracy vs the reference (metric -> value).
        options: export options that produced the file (for incremental re-export).
    """

    file: str
    role: str
    precision: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    opset: int
    sha256: str
    accuracy: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    """The artifacts directory's table of contents.

    Attributes:
        weights: source weights (path, sha256, architecture, canny params).
        files: exported files.
        toolkit_version: edgeinpaint version that wrote it.
    """

    weights: dict[str, Any]
    files: list[ArtifactFile] = field(default_factory=list)
    toolkit_version: str = __version__

    def find(self, role: str, precision: str = "fp32") -> ArtifactFile | None:
        for entry in self.files:
            if entry.role == role and entry.precision == precision:
                return entry
        return None

    def require(self, role: str, precision: str = "fp32") -> ArtifactFile:
        """The entry for ``role`` at ``precision``, or an ArtifactError with the command that adds it."""
        entry = self.find(role, precision)
        if entry is None:
            have = sorted({f.precision for f in self.files if f.role == role})
            weights = self.weights.get("path") or "W"
            raise ArtifactError(
                f"no {precision} {role} in the artifacts (have: {', '.join(have) or 'none'}); export it with "
                f"`edgeinpaint export --weights {weights} --output DIR --precision {precision}"
                + (" --calibration IMAGES_DIR" if precision == "int8" else "")
                + "`, then pass `--artifacts DIR`"
            )
        return entry

    @property
    def canny(self) -> CannyParams:
        """The source weights' Canny settings (checked)."""
        try:
            return CannyParams.from_json(self.weights.get("canny"), f"{MANIFEST} weights")
        except WeightsError as exc:
            raise ArtifactError(str(exc)) from None

    @property
    def blend(self) -> Blend:
        """The source weights' composite."""
        try:
            return Blend.parse(self.weights.get("blend", "paste"), f"{MANIFEST} weights")
        except WeightsError as exc:
            raise ArtifactError(str(exc)) from None

    def put(self, entry: ArtifactFile) -> None:
        self.files = [f for f in self.files if f.file != entry.file] + [entry]

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "toolkit_version": self.toolkit_version,
            "weights": self.weights,
            "files": [vars(f) for f in sorted(self.files, key=lambda f: f.file)],
        }

    def write(self, directory: Path) -> Path:
        """Write atomically (a reader never sees half a manifest)."""
        path = Path(directory) / MANIFEST
        write_text(path, json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        return path


#: Largest manifest accepted (ours are a few KB); guards the JSON parser against hostile files.
MAX_MANIFEST_BYTES = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FILE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "file": str,
    "role": str,
    "precision": str,
    "inputs": list,
    "outputs": list,
    "opset": int,
    "sha256": str,
    "accuracy": dict,
    "options": dict,
}


def _check_entry(data: object, index: int) -> ArtifactFile:
    where = f"files[{index}]"
    if not isinstance(data, dict):
        raise ArtifactError(f"{where} is a {type(data).__name__}; expected an object")
    unknown = set(data) - set(_FILE_FIELDS)
    if unknown:
        raise ArtifactError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for name, kind in _FILE_FIELDS.items():
        if name in ("accuracy", "options") and name not in data:
            continue
        if name not in data:
            raise ArtifactError(f"{where}: missing {name!r}")
        if not isinstance(data[name], kind) or isinstance(data[name], bool):
            raise ArtifactError(f"{where}.{name}: {type(data[name]).__name__}; expected {kind.__name__}")  # type: ignore[union-attr]
    if not _HEX64.fullmatch(data["sha256"]):
        raise ArtifactError(f"{where}.sha256: expected 64 lowercase hex digits")
    confined_name(data["file"], where)
    return ArtifactFile(**data)


def confined_name(name: str, where: str) -> PurePosixPath:
    """``name`` as a relative path inside the artifacts directory, or an ArtifactError.

    Absolute paths, ``..`` components, backslashes and empty names are refused, so a manifest
    can only name files of its own directory.
    """
    rel = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or rel.is_absolute()
        or any(part in ("..", "") for part in rel.parts)
        or name.startswith("~")
    ):
        raise ArtifactError(f"{where}: file {name!r}; expected a relative path inside the artifacts directory")
    return rel


def parse_manifest(data: object, path: Path) -> Manifest:
    """Validate a decoded manifest document against the schema above."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object")
    weights, files, version = data.get("weights"), data.get("files"), data.get("toolkit_version")
    if not isinstance(weights, dict):
        raise ArtifactError(f"{path}: 'weights' is {type(weights).__name__}; expected an object")
    if not isinstance(files, list):
        raise ArtifactError(f"{path}: 'files' is {type(files).__name__}; expected a list")
    if not isinstance(version, str):
        raise ArtifactError(f"{path}: 'toolkit_version' is {type(version).__name__}; expected a string")
    try:
        entries = [_check_entry(entry, i) for i, entry in enumerate(files)]
    except ArtifactError as exc:
        raise ArtifactError(f"{path}: {exc}") from None
    manifest = Manifest(weights=weights, files=entries, toolkit_version=version)
    for name in ("canny", "blend"):  # checked now: every reader relies on them
        try:
            getattr(manifest, name)
        except ArtifactError as exc:
            raise ArtifactError(f"{path}: {exc}") from None
    return manifest


def read_manifest(directory: Path) -> Manifest:
    """Parse and validate ``manifest.json`` without verifying files (see :func:`verify_file`)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; expected an artifacts directory written by `edgeinpaint export`")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{path}: {path.stat().st_size} bytes; a manifest is at most {MAX_MANIFEST_BYTES}")
    try:
        data = json.loads(path.read_text())
    except (ValueError, RecursionError) as exc:
        raise ArtifactError(f"{path}: malformed manifest ({str(exc)[:80]}); re-run `edgeinpaint export`") from None
    return parse_manifest(data, path)


def verify_file(directory: Path, entry: ArtifactFile) -> Path:
    """Return the file's path after checking it is a regular file inside ``directory`` and its sha256 matches.

    Symlinks are refused (an artifacts directory is self-contained), as are ONNX files that read
    external data: that data would not be covered by the manifest's sha256.
    """
    directory = Path(directory)
    rel = confined_name(entry.file, MANIFEST)
    path = directory / rel
    for part in [directory / PurePosixPath(*rel.parts[: i + 1]) for i in range(len(rel.parts))]:
        if part.is_symlink():
            raise ArtifactError(f"{path}: is or lies under a symlink; artifact files must be regular files")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        raise ArtifactError(f"{path}: listed in {MANIFEST} but missing; re-run `edgeinpaint export`") from None
    if not stat.S_ISREG(mode):
        raise ArtifactError(f"{path}: not a regular file")
    digest = sha256_file(path)
    if digest != entry.sha256:
        # Never echo the digest: it would disclose a hash of whatever file the name points at.
        raise ArtifactError(
            f"{path}: sha256 does not match the manifest; the file was modified or truncated. "
            "Re-run `edgeinpaint export` to rebuild it"
        )
    if path.suffix == ".onnx":
        # Once per file content: export's reuse check and the engines' load both verify a file.
        _refuse_external_data(path.resolve(), digest)
    return path


@functools.lru_cache(maxsize=64)
def _refuse_external_data(path: Path, digest: str) -> None:
    """ONNX files must carry their weights inline (ours are < 2 GB; external data is not hashed).

    Args:
        digest: the file's verified sha256 (the cache key with ``path``: new content is checked again).
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors.extend(a.t for a in node.attribute if a.HasField("t"))
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise ArtifactError(
                f"{path}: initializer {tensor.name!r} reads external data, which the manifest's sha256 does not "
                "cover; re-export (edgeinpaint writes self-contained ONNX files)"
            )
