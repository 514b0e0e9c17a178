"""The one way export makes an artifact: reuse an intact file, or build into temps, validate, publish, record.

Every exported file (generators in each precision, Canny graphs, the fused model) goes through
:func:`produce`: when the manifest already lists the file for the same weights and options and its
sha256 still matches, it is reused; otherwise ``build`` writes the temp paths it is given and
validates them (raising to abort: nothing is published), then every temp is renamed into place
and its entry put in the manifest. A group of files (the two generators of one precision) is
published only when all of them validated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinpaint.core.atomic import publish
from edgeinpaint.core.errors import ArtifactError
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.manifest import ArtifactFile, Manifest, verify_file


@dataclass(frozen=True)
class Built:
    """What a builder reports for one file (everything of its manifest entry but name, hash and options)."""

    role: str
    precision: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    opset: int
    accuracy: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportContext:
    """Where artifacts go and what was there before.

    Attributes:
        output: artifacts directory. previous: its manifest before this export (None = none).
        manifest: the manifest being written. weights_sha: the source weights' sha256.
    """

    output: Path
    previous: Manifest | None
    manifest: Manifest
    weights_sha: str | None
    progress: Callable[[str], None]


def reusable(
    output: Path, manifest: Manifest | None, file: str, weights_sha: str | None, options: dict[str, Any]
) -> ArtifactFile | None:
    """The existing entry when the same weights and options produced an intact file."""
    if manifest is None or manifest.weights.get("sha256") != weights_sha:
        return None
    for entry in manifest.files:
        if entry.file == file and entry.options == options:
            try:
                verify_file(output, entry)
            except ArtifactError:
                return None
            return entry
    return None


def produce(
    ctx: ExportContext,
    files: list[str],
    options: dict[str, Any],
    build: Callable[[dict[str, Path]], dict[str, Built]],
    what: str | None = None,
) -> dict[str, ArtifactFile]:
    """Reuse or build ``files`` together.

    Args:
        files: file names in the artifacts directory.
        options: everything that determines their content (recorded; a change rebuilds).
        build: writes ``{file: temp path}`` and returns each file's :class:`Built`; raises to abort.
        what: progress label (default: the file names).

    Returns:
        file -> its manifest entry (already put in ``ctx.manifest``).
    """
    label = what or ", ".join(files)
    entries = {f: reusable(ctx.output, ctx.previous, f, ctx.weights_sha, options) for f in files}
    if all(e is not None for e in entries.values()):
        for entry in entries.values():
            ctx.manifest.put(entry)  # type: ignore[arg-type]
        ctx.progress(f"{label}: up to date")
        return entries  # type: ignore[return-value]
    with contextlib.ExitStack() as stack:
        temps = {f: stack.enter_context(publish(ctx.output / f)) for f in files}
        built = build(temps)
    out = {}
    for f in files:
        b = built[f]
        entry = ArtifactFile(
            file=f,
            role=b.role,
            precision=b.precision,
            inputs=b.inputs,
            outputs=b.outputs,
            opset=b.opset,
            sha256=sha256_file(ctx.output / f),
            accuracy=b.accuracy,
            options=options,
        )
        ctx.manifest.put(entry)
        out[f] = entry
    return out
