"""LPIPS and FID for `edgeinpaint evaluate`, from locally available weights only (never downloaded).

LPIPS (Zhang et al. 2018, v0.1, AlexNet): the backbone is torchvision's AlexNet ``features``
(``alexnet-owt-7be5be79.pth``, given with ``--lpips-weights``); the five linear heads ship with
this package (``weights/bundled/lpips_alex_v0.1.safetensors``, converted from the ``lpips`` 0.1.4
wheel, BSD-2-Clause, see LPIPS_LICENSE.txt). Written here because the ``lpips`` package imports
torchvision, which does not install beside the CPU torch this project pins; the arithmetic is the
package's: inputs in [-1, 1], its ScalingLayer, channel-normalised features, squared differences,
1x1 heads, spatial mean, sum over the five ReLU outputs.

FID (Heusel et al. 2017): the Inception network is the TorchScript file used by StyleGAN2-ADA and
clean-fid (``inception-2015-12-05.pt``, given with ``--fid-weights``), called as
``model(images_uint8_nchw, return_features=True)`` -> (N, 2048) pool features; any TorchScript
module with that call works (tests use a small one). The distance is the Fréchet distance of
Gaussians fitted to the two feature sets (scipy's ``sqrtm``). With a few dozen images FID is
biased upwards: compare methods on the same images, not with published numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.errors import EdgeInpaintError

LPIPS_HEADS = Path(__file__).resolve().parents[1] / "weights" / "bundled" / "lpips_alex_v0.1.safetensors"
#: AlexNet ``features`` indices that end each LPIPS slice (after ReLU 1..5).
_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))


def _alexnet_features() -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(),
    )


class Lpips:
    """LPIPS v0.1 (AlexNet) distance between RGB uint8 images.

    Args:
        alexnet: torchvision AlexNet state dict (``features.*`` keys are used; a file with only
            those keys works too).
    """

    def __init__(self, alexnet: Path) -> None:
        import torch
        from safetensors.torch import load_file

        if not Path(alexnet).is_file():
            raise EdgeInpaintError(f"{alexnet}: LPIPS backbone not found; expected torchvision's alexnet-owt-*.pth")
        try:
            state = torch.load(alexnet, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise EdgeInpaintError(f"{alexnet}: not a readable torch state dict ({exc})") from exc
        features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        self.net = _alexnet_features().eval()
        try:
            self.net.load_state_dict(features)
        except RuntimeError as exc:
            raise EdgeInpaintError(f"{alexnet}: not an AlexNet state dict ({str(exc).splitlines()[0]})") from exc
        heads = load_file(str(LPIPS_HEADS))
        self.heads = [heads[f"lin{i}.model.1.weight"] for i in range(5)]
        self.shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
        self.scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS of two (H, W, 3) uint8 images (0 = identical)."""
        import torch

        def prep(x: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
            return (t - self.shift) / self.scale

        total = 0.0
        with torch.no_grad():
            fa, fb = prep(a), prep(b)
            for (start, end), head in zip(_SLICES, self.heads, strict=True):
                for layer in self.net[start:end]:
                    fa, fb = layer(fa), layer(fb)
                na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                total += float(torch.nn.functional.conv2d((na - nb) ** 2, head).mean())
        return total


class InceptionFeatures:
    """(N, 2048) Inception pool features of RGB uint8 images from a local TorchScript file."""

    def __init__(self, path: Path) -> None:
        import torch

        if not Path(path).is_file():
            raise EdgeInpaintError(f"{path}: FID network not found; expected the TorchScript inception-2015-12-05.pt")
        try:
            with warnings.catch_warnings():
                # torch 2.13 deprecates TorchScript loading, but the reference FID network is
                # distributed as TorchScript; the file runs no Python code of its own.
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:
            raise EdgeInpaintError(f"{path}: not a TorchScript module ({exc})") from exc

    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        import torch

        feats = []
        with torch.no_grad():
            for img in images:
                x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
                feats.append(self.model(x, return_features=True).reshape(1, -1).double().numpy())
        return np.concatenate(feats)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets (N, D) and (M, D)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    if not np.isfinite(covmean).all():  # singular product (few images): regularise as pytorch-fid does
        eps = np.eye(a.shape[1]) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))
