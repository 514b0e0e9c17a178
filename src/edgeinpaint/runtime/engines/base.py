"""What the engine modules share: the typed request to open engines and the opened generators."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from edgeinpaint.core.engine import Closing, Engine
from edgeinpaint.core.errors import ArtifactError
from edgeinpaint.core.manifest import ArtifactFile, Manifest, read_manifest, verify_file
from edgeinpaint.core.specs import Backend, Precision


@dataclass(frozen=True)
class EngineRequest:
    """What to open.

    Attributes:
        artifacts: artifacts directory (ONNX backends); manifest: its parsed manifest.
        weights: weights file (the torch backend, which runs the PyTorch modules).
        precision: which exported variant. threads: CPU threads (None = all cores).
        cuda_graph: native TensorRT: capture and replay CUDA graphs per shape.
    """

    artifacts: Path | None = None
    manifest: Manifest | None = None
    weights: Path | None = None
    precision: Precision = Precision.FP32
    threads: int | None = None
    cuda_graph: bool = False

    def artifact(self, role: str, backend: Backend, precision: Precision | None = None) -> tuple[ArtifactFile, Path]:
        """The manifest entry of ``role`` at ``precision`` (default: the request's) and its sha256-verified path.

        Raises:
            ArtifactError: no artifacts directory (``backend`` runs exported files), no such entry, bad hash.
        """
        if self.artifacts is None:
            raise ArtifactError(f"--backend {backend.value} runs exported files: give --artifacts or --weights")
        entry = (self.manifest or read_manifest(self.artifacts)).require(role, (precision or self.precision).value)
        return entry, verify_file(self.artifacts, entry)


@dataclass
class Generators(Closing):
    """The engines of one backend: both generators, or the fused single-file model; closes them (idempotent).

    Attributes:
        edge / inpaint: the generators (None in fused mode). fused: the fused model (image + mask
            in, picture + raw output out; export/fused.py), or None.
    """

    edge: Engine | None
    inpaint: Engine | None
    backend: Backend
    why: str = ""
    fused: Engine | None = None
    closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for engine in (self.edge, self.inpaint, self.fused):
                if engine is not None:
                    engine.close()


def installed(*modules: str) -> bool:
    """True when every module can be imported here (a broken or blocked install counts as absent)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except (ImportError, ValueError):
        return False
