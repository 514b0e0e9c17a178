"""EdgeConnect edge generator: completes the Canny edges inside the hole."""

from __future__ import annotations

import torch
from torch import nn

from edgeinpaint.models.blocks import Architecture, generator_trunk, init_weights


class EdgeGenerator(nn.Module):
    """Edge generator (in 3: masked gray, masked edges, mask; out 1, sigmoid).

    Args:
        arch: widths and depth (paper defaults: 64 channels, 8 residual blocks, 10,761,089 params).
        use_spectral_norm: True for training and for official checkpoints; False for the folded
            network we save, export and run (the resblock convs then keep no bias, as upstream).
    """

    in_channels = 3
    out_channels = 1

    def __init__(self, arch: Architecture | None = None, use_spectral_norm: bool = True) -> None:
        super().__init__()
        self.arch = arch or Architecture()
        self.encoder, self.middle, self.decoder = generator_trunk(
            self.in_channels, self.out_channels, self.arch, use_spectral_norm, resblock_bias=False
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict edges.

        Args:
            x: (N, 3, H, W) float in [0, 1]: ``[gray·(1−m)+m, edges·(1−m), m]``; H, W multiples of 4.

        Returns:
            (N, 1, H, W) edge probabilities in [0, 1].
        """
        return torch.sigmoid(self.decoder(self.middle(self.encoder(x))))

    def predict(self, gray: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Apply the input convention, then :meth:`forward`.

        Args:
            gray: (N, 1, H, W) gray in [0, 1]. edges: (N, 1, H, W) Canny edges {0, 1}.
            mask: (N, 1, H, W), 1 = hole.
        """
        return self(edge_input(gray, edges, mask))


def edge_input(gray: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) edge generator input ``[gray·(1−m)+m, edges·(1−m), m]`` (holes white in gray)."""
    known = 1.0 - mask
    return torch.cat([gray * known + mask, edges * known, mask], dim=1)
