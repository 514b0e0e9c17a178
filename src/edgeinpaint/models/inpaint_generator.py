"""EdgeConnect inpaint generator: paints the hole guided by edges."""

from __future__ import annotations

import torch
from torch import nn

from edgeinpaint.models.blocks import Architecture, generator_trunk, init_weights


class InpaintGenerator(nn.Module):
    """Inpaint generator (in 4: masked RGB, edges; out 3, (tanh+1)/2). No spectral norm.

    Args:
        arch: widths and depth (paper defaults: 10,774,595 params).
    """

    in_channels = 4
    out_channels = 3

    def __init__(self, arch: Architecture | None = None) -> None:
        super().__init__()
        self.arch = arch or Architecture()
        self.encoder, self.middle, self.decoder = generator_trunk(
            self.in_channels, self.out_channels, self.arch, use_spectral_norm=False, resblock_bias=True
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inpaint.

        Args:
            x: (N, 4, H, W) in [0, 1]: ``[rgb·(1−m)+m, edges]``; H, W multiples of 4.

        Returns:
            (N, 3, H, W) RGB in [0, 1] (raw, not composited).
        """
        return (torch.tanh(self.decoder(self.middle(self.encoder(x)))) + 1) / 2

    def predict(self, image: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Apply the input convention (holes white), then :meth:`forward`.

        Args:
            image: (N, 3, H, W) RGB in [0, 1]. edges: (N, 1, H, W) in [0, 1]. mask: (N, 1, H, W), 1 = hole.
        """
        return self(inpaint_input(image, edges, mask))


def inpaint_input(image: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W) inpaint generator input ``[rgb·(1−m)+m, edges]`` (holes white)."""
    return torch.cat([image * (1.0 - mask) + mask, edges], dim=1)
