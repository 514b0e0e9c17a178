"""Import official EdgeConnect checkpoints (knazeri/edge-connect) into our weights format.

An official folder holds ``config.yml``, ``EdgeModel_gen.pth`` and ``InpaintingModel_gen.pth``
(``{'iteration': int, 'generator': state_dict}``), saved on CUDA, possibly from DataParallel
(``module.`` prefixes). The edge generator carries spectral norm (``weight_orig/_u/_v``), which we
fold with the stored vectors and verify against torch's own spectral-norm forward.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from edgeinpaint.core.architecture import Architecture
from edgeinpaint.core.errors import WeightsError
from edgeinpaint.core.hashing import sha256_file
from edgeinpaint.core.params import CannyParams
from edgeinpaint.weights.format import Weights, load_state_checked

EDGE_FILE = "EdgeModel_gen.pth"
INPAINT_FILE = "InpaintingModel_gen.pth"
CONFIG_FILE = "config.yml"
#: Folded vs spectral-norm forward must agree to this max abs difference on sigmoid outputs.
FOLD_TOLERANCE = 1e-4


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` (a checkpoint is a pickle and must not run code).

    Raises:
        WeightsError: file missing, not a torch checkpoint, or containing non-tensor objects.
    """
    import torch

    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint file not found (expected {path.name} in the EdgeConnect folder)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"{path}: refused to load: the pickle contains objects other than tensors and plain containers "
            f"({first}); only weights-only checkpoints are accepted"
        ) from exc
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a dict checkpoint, found {type(obj).__name__}")
    return obj


def generator_state(path: Path) -> tuple[dict[str, Any], int | None]:
    """The generator state dict (``module.`` stripped) and iteration of an official ``*_gen.pth``."""
    import torch

    ckpt = load_checkpoint(path)
    state = ckpt.get("generator", ckpt if all(isinstance(v, torch.Tensor) for v in ckpt.values()) else None)
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{path}: expected a 'generator' state dict, found keys {sorted(ckpt)[:5]}")
    stripped = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    bad = [k for k, v in stripped.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: non-tensor entries in the state dict: {bad[:3]}")
    iteration = ckpt.get("iteration")
    return stripped, int(iteration) if isinstance(iteration, int) else None


def infer_architecture(state: dict[str, Any], path: Path) -> Architecture:
    """Width and depth from the tensor shapes (encoder.1 out channels, number of middle blocks)."""
    first = state.get("encoder.1.weight_orig", state.get("encoder.1.weight"))
    if first is None:
        raise WeightsError(f"{path}: no encoder.1 weight; not an EdgeConnect generator")
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"middle\.(\d+)\.", k))}
    return Architecture(base_channels=int(first.shape[0]), residual_blocks=len(blocks))


def read_sigma(folder: Path) -> float:
    """SIGMA from the official ``config.yml``."""
    import yaml

    path = folder / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(f"{path}: config.yml not found; pass --sigma to say which Canny sigma the weights used")
    try:
        config = yaml.safe_load(path.read_text())
        return float(config["SIGMA"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: expected a YAML mapping with a numeric SIGMA ({exc})") from exc


def import_edgeconnect(folder: Path, sigma: float | None = None) -> Weights:
    """Convert an official EdgeConnect checkpoint folder to :class:`Weights`.

    Args:
        folder: directory with EdgeModel_gen.pth, InpaintingModel_gen.pth and config.yml.
        sigma: Canny sigma override; by default SIGMA from config.yml.

    Raises:
        WeightsError: missing files, malicious pickles, wrong keys or shapes, or a fold that does
            not reproduce the spectral-norm network.
    """
    import numpy as np
    import torch

    from edgeinpaint.models import EdgeGenerator, InpaintGenerator
    from edgeinpaint.models.blocks import fold_spectral_norm

    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder}: not a directory; expected an EdgeConnect checkpoint folder")
    for name in (EDGE_FILE, INPAINT_FILE):
        if not (folder / name).is_file():
            raise WeightsError(f"{folder / name}: missing; an EdgeConnect folder holds {EDGE_FILE} and {INPAINT_FILE}")
    canny_sigma = float(sigma) if sigma is not None else read_sigma(folder)
    # nan, inf, negative or absurd sigmas are refused before anything is built from them
    CannyParams(sigma=canny_sigma).check(f"{folder}: SIGMA" if sigma is None else "--sigma")

    edge_state, edge_iter = generator_state(folder / EDGE_FILE)
    inpaint_state, inpaint_iter = generator_state(folder / INPAINT_FILE)
    arch = infer_architecture(edge_state, folder / EDGE_FILE)
    inpaint_arch = infer_architecture(inpaint_state, folder / INPAINT_FILE)
    if inpaint_arch != arch:
        raise WeightsError(f"{folder}: edge and inpaint generators differ in architecture ({arch} vs {inpaint_arch})")
    if "encoder.1.weight_orig" not in edge_state:
        raise WeightsError(
            f"{folder / EDGE_FILE}: expected spectral-norm keys (encoder.1.weight_orig/_u/_v), found plain weights"
        )

    edge_sn = EdgeGenerator(arch, use_spectral_norm=True)
    load_state_checked(edge_sn, edge_state, str(folder / EDGE_FILE))
    edge_sn.eval()
    folded = fold_spectral_norm(edge_sn)
    edge_plain = EdgeGenerator(arch, use_spectral_norm=False)
    load_state_checked(edge_plain, folded, f"{folder / EDGE_FILE} (folded)")
    edge_plain.eval()

    inpaint = InpaintGenerator(arch)
    load_state_checked(inpaint, inpaint_state, str(folder / INPAINT_FILE))

    # Fold check: torch's spectral-norm forward (eval: stored u, v) vs the folded plain network.
    gen = torch.Generator().manual_seed(0)
    probe = torch.rand(2, 3, 64, 64, generator=gen)
    with torch.no_grad():
        diff = float((edge_sn(probe) - edge_plain(probe)).abs().max())
    if not diff <= FOLD_TOLERANCE:
        raise WeightsError(
            f"{folder / EDGE_FILE}: folded spectral norm differs from the original by {diff:.3g} "
            f"(tolerance {FOLD_TOLERANCE}); the u/v vectors may be corrupt"
        )

    def to_numpy(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return {k: v.detach().float().cpu().numpy() for k, v in state.items()}

    return Weights(
        tensors={
            "edge_generator": to_numpy(folded),
            "inpaint_generator": to_numpy(inpaint.state_dict()),
        },
        architecture=arch,
        canny=CannyParams(sigma=canny_sigma),
        provenance={
            "source": "edgeconnect",
            "folder": str(folder.resolve()),
            "edge_iteration": edge_iter,
            "inpaint_iteration": inpaint_iter,
            "files": {n: sha256_file(folder / n) for n in (EDGE_FILE, INPAINT_FILE)},
            "fold_max_abs_diff": diff,
        },
    )
