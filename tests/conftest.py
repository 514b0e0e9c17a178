"""Shared fixtures: tiny-width models (fast), real-ish images from scikit-image, official-format folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TINY = {"base_channels": 8, "residual_blocks": 1}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` when the driver reports no CUDA device (not torch's build: a CPU torch
    on a GPU machine must not skip them)."""
    from edgeinpaint.core.device import cuda_probe

    if not cuda_probe().devices:
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def photo(name: str = "astronaut", size: int | None = 64) -> np.ndarray:
    """A real photo from scikit-image's bundled data as (H, W, 3) uint8, optionally resized square."""
    import cv2
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    if size is not None:
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def hole_mask(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A free-form hole mask (bool, True = hole) with 10-35% holes."""
    from edgeinpaint.trainer.masks import MaskSampler

    return MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35)).sample(np.random.default_rng(seed), h, w)


def official_modules(seed: int = 0):  # type: ignore[no-untyped-def]
    """Tiny official-style networks with non-trivial spectral-norm vectors (a few train-mode forwards)."""
    import torch

    from edgeinpaint.models import Architecture, Discriminator, EdgeGenerator, InpaintGenerator

    torch.manual_seed(seed)
    arch = Architecture(**TINY)
    edge = EdgeGenerator(arch, use_spectral_norm=True)
    inpaint = InpaintGenerator(arch)
    for m in (edge, inpaint):
        # Larger than the paper's N(0, 0.02) init so outputs vary visibly across pixels.
        for p in m.parameters():
            p.data.normal_(0, 0.2)
    with torch.no_grad():
        for _ in range(3):
            edge(torch.rand(1, 3, 32, 32))  # power iterations: u, v no longer at their init
    edge.eval()
    return arch, edge, inpaint, Discriminator(2), Discriminator(3)


def write_official_folder(folder: Path, sigma: float = 1.5, data_parallel: bool = True, seed: int = 0):  # type: ignore[no-untyped-def]
    """Write an official-format EdgeConnect checkpoint folder; returns the modules."""
    import torch

    arch, edge, inpaint, d_edge, d_inpaint = official_modules(seed)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "module." if data_parallel else ""

    def sd(m: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {prefix + k: v for k, v in m.state_dict().items()}

    torch.save({"iteration": 1234, "generator": sd(edge)}, folder / "EdgeModel_gen.pth")
    torch.save({"iteration": 1234, "generator": sd(inpaint)}, folder / "InpaintingModel_gen.pth")
    torch.save({"discriminator": d_edge.state_dict()}, folder / "EdgeModel_dis.pth")
    torch.save({"discriminator": d_inpaint.state_dict()}, folder / "InpaintingModel_dis.pth")
    (folder / "config.yml").write_text(f"MODE: 1\nMODEL: 4\nSIGMA: {sigma}\nSEED: 10\n")
    return arch, edge, inpaint


@pytest.fixture(scope="session")
def official_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("official") / "places2"
    write_official_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory, official_folder: Path) -> Path:
    """Our weights file imported from the tiny official folder."""
    from edgeinpaint.weights.edgeconnect import import_edgeconnect
    from edgeinpaint.weights.format import save_weights

    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_weights(import_edgeconnect(official_folder), path)
    return path


@pytest.fixture(scope="session")
def tiny_artifacts(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Path:
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    out = tmp_path_factory.mktemp("artifacts")
    export_artifacts(ExportConfig(weights=tiny_weights, output=out))
    return out


@pytest.fixture(scope="session")
def poisson_artifacts(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> Path:
    """The tiny weights recorded with the Poisson composite (like the bundled demo weights), exported."""
    import dataclasses

    from edgeinpaint.core.params import Blend
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.weights.format import load_weights, save_weights

    root = tmp_path_factory.mktemp("poisson")
    path = root / "tiny_poisson.safetensors"
    save_weights(dataclasses.replace(load_weights(tiny_weights), blend=Blend.POISSON), path)
    export_artifacts(ExportConfig(weights=path, output=root / "artifacts"))
    return root / "artifacts"


@pytest.fixture(scope="session")
def calib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("calib")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        Image.fromarray(photo(name, 64)).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="session")
def ladder(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, calib: Path) -> Path:
    from edgeinpaint.core import specs, tolerances
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    out = tmp_path_factory.mktemp("ladder")
    # The tiny test networks have large random weights (no training), which INT8 handles worse
    # than trained ones (~27 dB here): the floor policy is tested on its own below.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(tolerances.FLOORS_DB, "int8", 20.0)
        for precision in ("fp16", "int8"):
            config = ExportConfig(
                weights=tiny_weights, output=out, precision=specs.Precision(precision), calibration=calib
            )
            export_artifacts(config)
    return out


def run_argv(images: Path, masks: Path, out: Path, *extra: str) -> list[str]:
    """`edgeinpaint run` as a subprocess command line (tests that need a real process: signals, concurrency)."""
    import sys

    return [sys.executable, "-m", "edgeinpaint.cli", "run", "-i", str(images), "-m", str(masks), "-o", str(out), *extra]
