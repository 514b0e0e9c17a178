"""``manifest.json``: what an artifacts directory holds, and verification when it is loaded.

Every file is recorded with its role, precision, I/O specs, opset and sha256; loading verifies
each sha256 so a tampered or truncated file is refused before it reaches an engine.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinpaint import __version__
from edgeinpaint.errors import ArtifactError
from edgeinpaint.hashing import sha256_file

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
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_json(), fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
        return path


def read_manifest(directory: Path) -> Manifest:
    """Parse ``manifest.json`` without verifying files (see :func:`verify_file`)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; expected an artifacts directory written by `edgeinpaint export`")
    try:
        data = json.loads(path.read_text())
        files = [ArtifactFile(**entry) for entry in data["files"]]
        return Manifest(weights=data["weights"], files=files, toolkit_version=data["toolkit_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: malformed manifest ({exc}); re-run `edgeinpaint export`") from exc


def verify_file(directory: Path, entry: ArtifactFile) -> Path:
    """Return the file's path after checking it exists and its sha256 matches the manifest."""
    path = Path(directory) / entry.file
    if not path.is_file():
        raise ArtifactError(f"{path}: listed in {MANIFEST} but missing; re-run `edgeinpaint export`")
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ArtifactError(
            f"{path}: sha256 {digest[:12]}… does not match the manifest ({entry.sha256[:12]}…); the file was "
            "modified or truncated. Re-run `edgeinpaint export` to rebuild it"
        )
    return path
