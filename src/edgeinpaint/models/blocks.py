"""Building blocks shared by both generators (Nazeri et al. 2019, arXiv:1901.00212, and the official
``src/networks.py`` of github.com/knazeri/edge-connect)."""

from __future__ import annotations

import torch
from torch import nn

from edgeinpaint.core.architecture import Architecture

__all__ = ["Architecture", "ResnetBlock", "fold_spectral_norm", "fold_weight", "generator_trunk", "init_weights"]


def maybe_spectral(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``module`` in (old-style) spectral norm so keys are ``weight_orig/_u/_v`` as upstream.

    The parametrization API would name them ``parametrizations.weight.original``, which no
    official checkpoint uses.
    """
    return nn.utils.spectral_norm(module) if enabled else module


class ResnetBlock(nn.Module):
    """Dilated residual block: x + [pad(d), conv3x3 dil d, IN, ReLU, pad(1), conv3x3, IN](x).

    Args:
        dim: channels in and out.
        dilation: dilation of the first conv (2 in EdgeConnect).
        use_spectral_norm: wrap both convs in spectral norm; they then carry no bias, as upstream.
    """

    def __init__(self, dim: int, dilation: int = 2, use_spectral_norm: bool = False) -> None:
        super().__init__()
        bias = not use_spectral_norm
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            maybe_spectral(nn.Conv2d(dim, dim, 3, padding=0, dilation=dilation, bias=bias), use_spectral_norm),
            nn.InstanceNorm2d(dim, track_running_stats=False),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            maybe_spectral(nn.Conv2d(dim, dim, 3, padding=0, dilation=1, bias=bias), use_spectral_norm),
            nn.InstanceNorm2d(dim, track_running_stats=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # No activation after the add (upstream's choice, kept for weight compatibility).
        return x + self.conv_block(x)


def generator_trunk(
    in_channels: int, out_channels: int, arch: Architecture, use_spectral_norm: bool, resblock_bias: bool
) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential]:
    """Encoder, middle and decoder with the official module indices.

    Args:
        in_channels: generator input channels.
        out_channels: generator output channels (before the output activation).
        arch: widths and depth.
        use_spectral_norm: spectral norm on every conv except the final one.
        resblock_bias: whether the residual block convs carry a bias when spectral norm is off.
            (Upstream ties the resblock bias to spectral norm; a folded edge generator has none.)
    """
    c = arch.base_channels
    sn = use_spectral_norm

    def conv(*args: int, **kwargs: int) -> nn.Module:
        return maybe_spectral(nn.Conv2d(*args, **kwargs), sn)  # type: ignore[arg-type]

    def deconv(*args: int, **kwargs: int) -> nn.Module:
        return maybe_spectral(nn.ConvTranspose2d(*args, **kwargs), sn)  # type: ignore[arg-type]

    encoder = nn.Sequential(
        nn.ReflectionPad2d(3),
        conv(in_channels, c, kernel_size=7, padding=0),
        nn.InstanceNorm2d(c, track_running_stats=False),
        nn.ReLU(True),
        conv(c, 2 * c, kernel_size=4, stride=2, padding=1),
        nn.InstanceNorm2d(2 * c, track_running_stats=False),
        nn.ReLU(True),
        conv(2 * c, 4 * c, kernel_size=4, stride=2, padding=1),
        nn.InstanceNorm2d(4 * c, track_running_stats=False),
        nn.ReLU(True),
    )
    blocks = []
    for _ in range(arch.residual_blocks):
        block = ResnetBlock(4 * c, 2, use_spectral_norm=sn)
        if not sn and not resblock_bias:
            for idx in (1, 5):
                old = block.conv_block[idx]
                block.conv_block[idx] = nn.Conv2d(
                    4 * c,
                    4 * c,
                    3,
                    padding=0,
                    dilation=old.dilation,  # type: ignore[arg-type]
                    bias=False,
                )
        blocks.append(block)
    middle = nn.Sequential(*blocks)
    decoder = nn.Sequential(
        deconv(4 * c, 2 * c, kernel_size=4, stride=2, padding=1),
        nn.InstanceNorm2d(2 * c, track_running_stats=False),
        nn.ReLU(True),
        deconv(2 * c, c, kernel_size=4, stride=2, padding=1),
        nn.InstanceNorm2d(c, track_running_stats=False),
        nn.ReLU(True),
        nn.ReflectionPad2d(3),
        nn.Conv2d(c, out_channels, kernel_size=7, padding=0),
    )
    return encoder, middle, decoder


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """N(0, gain) weights and zero bias for every Conv/ConvTranspose (upstream's 'normal' init)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            weight: torch.Tensor = getattr(m, "weight_orig", m.weight)
            nn.init.normal_(weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def fold_weight(weight_orig: torch.Tensor, u: torch.Tensor, v: torch.Tensor, dim: int) -> torch.Tensor:
    """Fold one spectral-normalised weight with its stored power-iteration vectors.

    W = weight_orig / sigma with sigma = u · (W_mat v), W_mat = weight_orig with axis ``dim`` moved
    first and reshaped to (size(dim), -1). This is what torch's spectral norm computes in eval mode;
    sigma is deliberately *not* recomputed by SVD, which would give a different network.

    Args:
        weight_orig: conv weight, (out, in, k, k) for Conv2d or (in, out, k, k) for ConvTranspose2d.
        u: (size(dim),) left vector. v: (numel / size(dim),) right vector.
        dim: 0 for Conv2d, 1 for ConvTranspose2d (torch's default for transposed convs).
    """
    w = weight_orig.double()
    if dim != 0:
        w = w.permute(dim, *[d for d in range(w.dim()) if d != dim])
    w_mat = w.reshape(w.shape[0], -1)
    sigma = torch.dot(u.double(), torch.mv(w_mat, v.double()))
    return (weight_orig.double() / sigma).to(weight_orig.dtype)


def fold_spectral_norm(module: nn.Module) -> dict[str, torch.Tensor]:
    """State dict of ``module`` with every spectral norm replaced by its plain ``weight``.

    Args:
        module: a network that may carry (old-style) spectral norm.

    Returns:
        A state dict loadable into the same network built with ``use_spectral_norm=False``.
    """
    folded: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, sub in module.named_modules():
            prefix = f"{name}." if name else ""
            params = dict(sub.named_parameters(recurse=False))
            buffers = dict(sub.named_buffers(recurse=False))
            for pname, tensor in params.items():
                if pname == "weight_orig":
                    dim = 1 if isinstance(sub, nn.ConvTranspose2d) else 0
                    folded[prefix + "weight"] = fold_weight(
                        tensor.detach(), buffers["weight_u"], buffers["weight_v"], dim
                    )
                else:
                    folded[prefix + pname] = tensor.detach().clone()
    return folded
