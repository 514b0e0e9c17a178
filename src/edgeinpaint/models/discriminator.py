"""70x70 PatchGAN discriminator used in training (the official ``Discriminator`` in
github.com/knazeri/edge-connect ``src/networks.py``; Isola et al. 2017, arXiv:1611.07004)."""

from __future__ import annotations

import torch
from torch import nn

from edgeinpaint.models.blocks import init_weights, maybe_spectral


class Discriminator(nn.Module):
    """PatchGAN with spectral norm; returns the patch logits/probabilities and all five features.

    Args:
        in_channels: 2 for the edge discriminator (gray, edges), 3 for the inpaint one (RGB).
        use_sigmoid: apply a sigmoid to the output (False for the hinge loss).
        use_spectral_norm: spectral norm on every conv (convs then carry no bias), as upstream.
        base_channels: 64 in the paper.
    """

    def __init__(
        self,
        in_channels: int,
        use_sigmoid: bool = True,
        use_spectral_norm: bool = True,
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        c, sn = base_channels, use_spectral_norm

        def block(cin: int, cout: int, stride: int, act: bool) -> nn.Sequential:
            layers: list[nn.Module] = [
                maybe_spectral(nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=not sn), sn)
            ]
            if act:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            return nn.Sequential(*layers)

        # Upstream registers conv1 twice (also as `features`), so official checkpoints carry
        # duplicate `features.0.*` keys; registering it twice keeps those files loadable.
        self.conv1 = self.features = block(in_channels, c, 2, True)
        self.conv2 = block(c, 2 * c, 2, True)
        self.conv3 = block(2 * c, 4 * c, 2, True)
        self.conv4 = block(4 * c, 8 * c, 1, True)
        self.conv5 = block(8 * c, 1, 1, False)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Score patches.

        Args:
            x: (N, C, H, W) in [0, 1].

        Returns:
            (scores (N, 1, h, w), [conv1..conv5 feature maps]).
        """
        conv1 = self.conv1(x)
        conv2 = self.conv2(conv1)
        conv3 = self.conv3(conv2)
        conv4 = self.conv4(conv3)
        conv5 = self.conv5(conv4)
        out = torch.sigmoid(conv5) if self.use_sigmoid else conv5
        return out, [conv1, conv2, conv3, conv4, conv5]
