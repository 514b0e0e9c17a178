"""EdgeConnect losses: adversarial (nsgan/lsgan/hinge), feature matching, L1, perceptual, style."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


class AdversarialLoss(nn.Module):
    """GAN loss.

    Args:
        kind: ``nsgan`` (BCE on sigmoid outputs, default), ``lsgan`` (MSE) or ``hinge`` (raw logits).
    """

    def __init__(self, kind: str = "nsgan") -> None:
        super().__init__()
        if kind not in ("nsgan", "lsgan", "hinge"):
            raise ValueError(f"unknown GAN loss {kind!r}; expected nsgan, lsgan or hinge")
        self.kind = kind

    def forward(self, outputs: torch.Tensor, is_real: bool, for_discriminator: bool) -> torch.Tensor:
        """Loss of discriminator ``outputs`` against the real/fake target."""
        if self.kind == "hinge":
            if for_discriminator:
                return torch.relu(1 - outputs).mean() if is_real else torch.relu(1 + outputs).mean()
            return -outputs.mean()
        target = torch.full_like(outputs, 1.0 if is_real else 0.0)
        if self.kind == "nsgan":
            # The discriminator applied the sigmoid already; BCE is not autocast-safe, so run in fp32.
            with torch.autocast(device_type=outputs.device.type, enabled=False):
                return nn.functional.binary_cross_entropy(outputs.float().clamp(1e-7, 1 - 1e-7), target.float())
        return nn.functional.mse_loss(outputs, target)


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Sum over the five discriminator feature maps of L1(fake, real.detach())."""
    return sum((nn.functional.l1_loss(f, r.detach()) for f, r in zip(fake, real, strict=True)), torch.zeros(()))


# torchvision's vgg19().features layout: (index, out channels) of each conv; 'M' = max-pool.
_VGG19: list[int | str] = [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
]
_VGG19_RELU = {
    "relu1_1": 1,
    "relu1_2": 3,
    "relu2_1": 6,
    "relu2_2": 8,
    "relu3_1": 11,
    "relu3_2": 13,
    "relu3_3": 15,
    "relu3_4": 17,
    "relu4_1": 20,
    "relu4_2": 22,
    "relu4_3": 24,
    "relu4_4": 26,
    "relu5_1": 29,
    "relu5_2": 31,
}
VGG19_FILENAME = "vgg19-dcbb9e9d.pth"


def vgg19_features() -> nn.Sequential:
    """VGG19 ``features`` with torchvision's layer indices (so its state dict loads as is)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _VGG19:
        if isinstance(v, int):
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
        else:
            layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def find_vgg19(path: Path | None) -> Path | None:
    """A local VGG19 state dict: the given path, else torchvision's cache; never downloaded."""
    if path is not None:
        return Path(path) if Path(path).is_file() else None
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints" / VGG19_FILENAME
    return hub if hub.is_file() else None


class VGG19Loss(nn.Module):
    """Perceptual (relu1_1..relu5_1, L1) and style (Gram of relu2_2, relu3_4, relu4_4, relu5_2) losses.

    Inputs are [0, 1] RGB without ImageNet normalisation, as upstream.

    Args:
        weights: torchvision VGG19 state dict file (``features.N.*`` keys).
    """

    perceptual_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_layers = ("relu2_2", "relu3_4", "relu4_4", "relu5_2")

    def __init__(self, weights: Path) -> None:
        super().__init__()
        self.features = vgg19_features()
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        self.features.load_state_dict(state)
        self.features.requires_grad_(False).eval()

    def _taps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = {v: k for k, v in _VGG19_RELU.items()}
        out = {}
        for idx, layer in enumerate(self.features):
            x = layer(x)
            if idx in wanted:
                out[wanted[idx]] = x
            if idx >= _VGG19_RELU["relu5_2"]:
                break
        return out

    @staticmethod
    def gram(f: torch.Tensor) -> torch.Tensor:
        """Gram matrix F Fᵀ / (C·H·W) per sample."""
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)

    def perceptual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self._taps(x), self._taps(y)
        return sum(
            (nn.functional.l1_loss(fx[k], fy[k]) for k in self.perceptual_layers),
            torch.zeros((), device=x.device),
        )

    def style(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self._taps(x), self._taps(y)
        return sum(
            (nn.functional.l1_loss(self.gram(fx[k]), self.gram(fy[k])) for k in self.style_layers),
            torch.zeros((), device=x.device),
        )


def gradient_l1(output: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor, scales: int = 1) -> torch.Tensor:
    """L1 between forward differences of ``output`` and ``truth`` where either pixel is in the hole.

    A difference between a hole pixel and its known neighbour counts: that is the seam the Poisson
    composite has to honour. Normalised by the number of such differences. With ``scales`` > 1 the
    same is added on 2x, 4x, ... average-pooled images (the hole max-pooled): the Poisson composite
    integrates the gradients, so a small bias that runs across a hole becomes a large colour error,
    and coarse scales see it where single-pixel differences drown it in texture.

    Args:
        output, truth: (N, C, H, W). mask: (N, 1, H, W), 1 = hole. scales: pyramid levels.
    """
    total = _gradient_l1(output, truth, mask)
    for level in range(1, scales):
        k = 2**level
        if min(output.shape[-2:]) < 2 * k:
            break
        pool = torch.nn.functional.avg_pool2d
        total = total + _gradient_l1(pool(output, k), pool(truth, k), torch.nn.functional.max_pool2d(mask, k))
    return total


def _gradient_l1(output: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    total = output.new_zeros(())
    count = output.new_zeros(())
    for dim in (2, 3):
        d_out = output.diff(dim=dim)
        d_truth = truth.diff(dim=dim)
        n = mask.size(dim)
        touch = torch.maximum(mask.narrow(dim, 0, n - 1), mask.narrow(dim, 1, n - 1))
        total = total + ((d_out - d_truth).abs() * touch).sum()
        count = count + touch.sum() * output.size(1)
    return total / count.clamp_min(1.0)
