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
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeinpaint.architecture import Architecture
from edgeinpaint.errors import WeightsError
from edgeinpaint.hashing import sha256_file

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
METADATA_KEY = "edgeinpaint"
NETWORKS = ("edge_generator", "inpaint_generator")
#: Serving composites a weights file may ask for (see Weights.blend).
BLENDS = ("paste", "poisson")


@dataclass(frozen=True)
class CannyParams:
    """Canny settings the weights were trained with (skimage.feature.canny semantics).

    Attributes:
        sigma: Gaussian standard deviation (EdgeConnect: 2).
        low: hysteresis low threshold on the gradient magnitude of a [0, 1] image.
        high: hysteresis high threshold.
    """

    sigma: float = 2.0
    low: float = 0.1
    high: float = 0.2

    def to_json(self) -> dict[str, float]:
        return {"sigma": self.sigma, "low": self.low, "high": self.high}


@dataclass
class Weights:
    """Loaded weights.

    Attributes:
        tensors: network name -> state dict (numpy float32 arrays, folded).
        architecture: generator hyper-parameters.
        canny: Canny settings for serving.
        blend: how the raw output is composited when serving: "paste" (the paper: output in the
            hole, input outside) or "poisson" (the output's gradients, boundary from the input;
            runtime/blend.py). A serving setting of the weights, like Canny's.
        provenance: free-form origin information (source files, iteration, command).
        path: file the weights came from, if any. sha256: that file's digest.
    """

    tensors: dict[str, dict[str, np.ndarray]]
    architecture: Architecture = field(default_factory=Architecture)
    canny: CannyParams = field(default_factory=CannyParams)
    blend: str = "paste"
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "architecture": self.architecture.to_json(),
            "canny": self.canny.to_json(),
            "blend": self.blend,
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
    from safetensors.numpy import save_file

    flat = {
        f"{net}.{key}": np.ascontiguousarray(value, dtype=np.float32)
        for net, state in weights.tensors.items()
        for key, value in state.items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(flat, tmp, metadata={METADATA_KEY: json.dumps(weights.metadata(), sort_keys=True)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
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
    try:
        meta = json.loads(meta_raw)
        arch = Architecture.from_json(meta["architecture"])
        canny = CannyParams(**{k: float(v) for k, v in meta["canny"].items()})
        blend = str(meta.get("blend", "paste"))
        if blend not in BLENDS:
            raise ValueError(f"blend {blend!r} is not one of {', '.join(BLENDS)}")
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{path}: invalid edgeinpaint metadata ({exc})") from exc
    if int(meta.get("format", 0)) > FORMAT_VERSION:
        raise WeightsError(f"{path}: weights format {meta['format']} is newer than this toolkit's ({FORMAT_VERSION})")
    tensors: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        net, _, sub = key.partition(".")
        if net not in NETWORKS or not sub:
            raise WeightsError(f"{path}: unexpected tensor {key!r}; expected names '<network>.<key>'")
        tensors.setdefault(net, {})[sub] = value
    return Weights(
        tensors=tensors,
        architecture=arch,
        canny=canny,
        blend=blend,
        provenance=dict(meta.get("provenance", {})),
        path=path,
        sha256=sha256_file(path),
    )


def weights_from_modules(
    edge_generator: nn.Module | None,
    inpaint_generator: nn.Module | None,
    architecture: Architecture,
    canny: CannyParams,
    provenance: dict[str, Any],
    blend: str = "paste",
) -> Weights:
    """Fold spectral norm and collect both generators into a :class:`Weights`."""
    from edgeinpaint.models.blocks import fold_spectral_norm

    tensors: dict[str, dict[str, np.ndarray]] = {}
    for name, module in (("edge_generator", edge_generator), ("inpaint_generator", inpaint_generator)):
        if module is not None:
            tensors[name] = {k: v.detach().cpu().float().numpy() for k, v in fold_spectral_norm(module).items()}
    return Weights(tensors=tensors, architecture=architecture, canny=canny, blend=blend, provenance=provenance)
