"""Our weights format: one safetensors file with both generators, folded, plus JSON metadata.

Layout: tensors ``edge_generator.<official key>`` and ``inpaint_generator.<official key>`` with
spectral norm already folded (plain ``weight``); safetensors metadata key ``edgeinpaint`` holds a
JSON document::

    {"format": 1, "architecture": {"base_channels": 64, "residual_blocks": 8},
     "canny": {"sigma": 2.0, "low": 0.1, "high": 0.2}, "networks": [...], "provenance": {...}}

safetensors cannot execute code on load, unlike the pickles official checkpoints are stored in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinpaint.core.architecture import Architecture
from edgeinpaint.core.atomic import write_bytes
from edgeinpaint.core.errors import WeightsError
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.params import Blend, CannyParams

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
METADATA_KEY = "edgeinpaint"
NETWORKS = ("edge_generator", "inpaint_generator")


@dataclass
class Weights:
    """Loaded weights.

    Attributes:
        tensors: network name -> state dict (numpy float32 arrays, folded).
        architecture: generator hyper-parameters.
        canny: Canny settings for serving.
        blend: how the raw output is composited when serving: "paste" (the paper: output in the
            hole, input outside) or "poisson" (the output's gradients, boundary from the input;
            core/blend.py). A serving setting of the weights, like Canny's.
        provenance: free-form origin information (source files, iteration, command).
        path: file the weights came from, if any. sha256: that file's digest.
    """

    tensors: dict[str, dict[str, np.ndarray]]
    architecture: Architecture = field(default_factory=Architecture)
    canny: CannyParams = field(default_factory=CannyParams)
    blend: Blend = Blend.PASTE
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "architecture": self.architecture.to_json(),
            "canny": self.canny.to_json(),
            "blend": Blend(self.blend).value,
            "networks": sorted(self.tensors),
            "provenance": self.provenance,
        }

    def require(self, network: str) -> dict[str, np.ndarray]:
        """State dict of ``network`` or a clear error naming the file."""
        if network not in self.tensors:
            raise WeightsError(
                f"{self.path or 'weights'}: expected a {network} in the file, found only "
                f"{', '.join(sorted(self.tensors)) or 'nothing'}"
            )
        return self.tensors[network]

    def build(self, network: str) -> nn.Module:
        """A torch module (eval mode, no spectral norm) holding ``network``'s weights."""
        import torch

        from edgeinpaint.models import EdgeGenerator, InpaintGenerator

        module: nn.Module
        if network == "edge_generator":
            module = EdgeGenerator(self.architecture, use_spectral_norm=False)
        elif network == "inpaint_generator":
            module = InpaintGenerator(self.architecture)
        else:
            raise WeightsError(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}")
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.require(network).items()}
        load_state_checked(module, state, f"{self.path or 'weights'} [{network}]")
        return module.eval()


def load_state_checked(module: nn.Module, state: dict[str, Any], where: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming keys and shapes that differ."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(state))
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        if wrong:
            parts.append(f"wrong shapes {_short(wrong)}")
        raise WeightsError(f"{where}: state dict does not fit the network: {'; '.join(parts)}")
    module.load_state_dict(state, strict=True)


def _short(items: list[str], n: int = 4) -> str:
    head = ", ".join(items[:n])
    return head + (f" and {len(items) - n} more" if len(items) > n else "")


def save_weights(weights: Weights, path: Path) -> str:
    """Write ``weights`` atomically (temp file + rename); return the file's sha256."""
    from safetensors.numpy import save

    flat = {
        f"{net}.{key}": np.ascontiguousarray(value, dtype=np.float32)
        for net, state in weights.tensors.items()
        for key, value in state.items()
    }
    path = Path(path)
    write_bytes(path, save(flat, metadata={METADATA_KEY: json.dumps(weights.metadata(), sort_keys=True)}))
    return sha256_file(path)


def load_weights(path: Path) -> Weights:
    """Read our weights file.

    Raises:
        WeightsError: missing file, not safetensors, no/invalid metadata.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="numpy") as fh:  # type: ignore[no-untyped-call]
            meta_raw = (fh.metadata() or {}).get(METADATA_KEY)
            flat = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    if meta_raw is None:
        raise WeightsError(
            f"{path}: safetensors file without '{METADATA_KEY}' metadata; expected an edgeinpaint weights "
            "file (official checkpoints go through `edgeinpaint weights import --edgeconnect DIR`)"
        )
    meta = _parse_metadata(meta_raw, path)
    arch = Architecture.from_json(meta["architecture"], where=str(path))
    canny = CannyParams.from_json(meta["canny"], where=str(path))
    blend = Blend.parse(meta.get("blend", "paste"), str(path))
    provenance = meta.get("provenance", {})
    if not isinstance(provenance, dict):
        raise WeightsError(f"{path}: provenance {type(provenance).__name__}; expected an object")
    tensors: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        net, _, sub = key.partition(".")
        if net not in NETWORKS or not sub:
            raise WeightsError(f"{path}: unexpected tensor {key!r}; expected names '<network>.<key>'")
        tensors.setdefault(net, {})[sub] = value
    check_architecture(tensors, arch, str(path))
    return Weights(
        tensors=tensors,
        architecture=arch,
        canny=canny,
        blend=blend,
        provenance=dict(provenance),
        path=path,
        sha256=sha256_file(path),
    )


def weights_from_modules(
    edge_generator: nn.Module | None,
    inpaint_generator: nn.Module | None,
    architecture: Architecture,
    canny: CannyParams,
    provenance: dict[str, Any],
    blend: Blend | str = Blend.PASTE,
) -> Weights:
    """Fold spectral norm and collect both generators into a :class:`Weights`."""
    from edgeinpaint.models.blocks import fold_spectral_norm

    tensors: dict[str, dict[str, np.ndarray]] = {}
    for name, module in (("edge_generator", edge_generator), ("inpaint_generator", inpaint_generator)):
        if module is not None:
            tensors[name] = {k: v.detach().cpu().float().numpy() for k, v in fold_spectral_norm(module).items()}
    return Weights(tensors=tensors, architecture=architecture, canny=canny, blend=Blend(blend), provenance=provenance)


#: Deepest JSON nesting accepted in weights metadata (provenance holds a flat config).
MAX_METADATA_DEPTH = 16


def _depth(value: object, level: int = 0) -> int:
    if level > MAX_METADATA_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


def _parse_metadata(raw: str, path: Path) -> dict[str, Any]:
    """The metadata document, checked for the fields every reader relies on."""
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise WeightsError(f"{path}: metadata is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{path}: metadata is a {type(meta).__name__}; expected a JSON object")
    if _depth(meta) > MAX_METADATA_DEPTH:
        raise WeightsError(f"{path}: metadata nested deeper than {MAX_METADATA_DEPTH} levels")
    version = meta.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WeightsError(f"{path}: metadata format {version!r}; expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise WeightsError(f"{path}: weights format {version} is newer than this toolkit's ({FORMAT_VERSION})")
    for key in ("architecture", "canny"):
        if key not in meta:
            raise WeightsError(f"{path}: metadata has no {key!r}")
    return meta


def check_architecture(tensors: dict[str, dict[str, np.ndarray]], arch: Architecture, where: str) -> None:
    """Refuse metadata that disagrees with the tensors before anything is built from it.

    Building a network allocates by the metadata (``residual_blocks`` of ``4·c × 4·c`` convs), so a
    file claiming 2,000,000 blocks must fail here, from the tensors' own shapes, not in the allocator.
    """
    for net, state in tensors.items():
        first = state.get("encoder.1.weight")
        if first is None or first.ndim != 4:
            raise WeightsError(f"{where}: {net} has no 4-D encoder.1.weight; expected an EdgeConnect generator")
        if int(first.shape[0]) != arch.base_channels:
            raise WeightsError(
                f"{where}: metadata says base_channels {arch.base_channels}, {net}.encoder.1.weight has "
                f"{first.shape[0]} output channels"
            )
        blocks = {k.split(".")[1] for k in state if k.startswith("middle.")}
        if len(blocks) != arch.residual_blocks:
            raise WeightsError(
                f"{where}: metadata says {arch.residual_blocks} residual blocks, {net} has {len(blocks)}"
            )
