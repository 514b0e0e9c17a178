"""The float32 Canny graph (canny/graph.py, ``exact=False``) as PyTorch ops, for the recipe on the device.

Every step is the graph's own arithmetic in the same order: the masked Gaussian as two grouped
convolutions, the Sobel convolution after an edge pad, bilinear non-maximum suppression with the
graph's arithmetic selects (``x·c + y·(1−c)``), the eroded allowed region, float32(low), and
hysteresis as 3x3 max-pool dilations inside the candidate set until nothing changes. On CPU torch
its edges equal the float32 ONNX graph's on ONNX Runtime (tests/unit/test_torch_canny.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeinpaint.canny.graph import DILATIONS_PER_ITERATION, gaussian_kernel
from edgeinpaint.core.params import CannyParams


def canny_torch(gray: Any, known: Any, params: CannyParams) -> Any:
    """Edges of a batch.

    Args:
        gray: (N, 1, H, W) float32 torch tensor in [0, 1]. known: (N, 1, H, W) float32, 1 = known.

    Returns:
        (N, 1, H, W) float32 {0, 1}, on the inputs' device.
    """
    import torch
    import torch.nn.functional as F

    device = gray.device
    kernel = torch.from_numpy(gaussian_kernel(params.sigma).astype(np.float32)).to(device)
    r = (kernel.numel() - 1) // 2
    both = torch.cat([gray * known, known], 1)  # image and mask blurred as two channels, as the graph
    both = F.conv2d(both, kernel.reshape(1, 1, -1, 1).repeat(2, 1, 1, 1), padding=(r, 0), groups=2)
    both = F.conv2d(both, kernel.reshape(1, 1, 1, -1).repeat(2, 1, 1, 1), padding=(0, r), groups=2)
    eps = torch.tensor(np.float32(np.finfo(np.float64).eps), device=device)
    smoothed = both[:, :1] / (both[:, 1:] + eps)
    sobel = torch.tensor(
        [[[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]], [[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]]], dtype=torch.float32
    ).to(device)
    grads = F.conv2d(F.pad(smoothed, (1, 1, 1, 1), mode="replicate"), sobel)  # scipy 'reflect' for 1 px
    isobel, jsobel = grads[:, :1], grads[:, 1:]
    mag = torch.sqrt(isobel * isobel + jsobel * jsobel)
    keep = _non_maximum(mag, isobel, jsobel)
    allowed = F.max_pool2d(F.pad(1 - known, (1, 1, 1, 1), value=1.0), 3, stride=1) < 0.5
    low = np.float32(params.low) if np.float32(params.low) != 0 else np.float32(1e-14)  # skimage's C float
    candidate = keep & allowed & (mag >= torch.tensor(low, device=device))
    strong = candidate & (mag >= torch.tensor(np.float32(params.high), device=device))
    return _hysteresis(candidate.float(), strong.float())


def _non_maximum(mag: Any, isobel: Any, jsobel: Any) -> Any:
    """skimage's bilinear non-maximum suppression, with the graph's arithmetic (bool (N, 1, H, W))."""
    import torch.nn.functional as F

    h, w = mag.shape[2:]
    padded = F.pad(mag, (1, 1, 1, 1))
    s = {(dx, dy): padded[:, :, 1 + dx : 1 + dx + h, 1 + dy : 1 + dy + w] for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    ai, aj = isobel.abs(), jsobel.abs()
    up, down, left, right = isobel >= 0, isobel <= 0, jsobel <= 0, jsobel >= 0
    c1 = (up & right) | (down & left)
    c2 = (down & right) | (up & left)
    j_over_i = aj / (ai + (ai == 0).float())
    i_over_j = ai / (aj + (aj == 0).float())

    def select(cond: Any, x: Any, y: Any) -> Any:
        f = cond.float()
        return x * f + y * (1 - f)

    ge, le = ai >= aj, ai <= aj
    weight = select(c1, select(ge, j_over_i, i_over_j), select(le, i_over_j, j_over_i))
    a1 = select(c1, select(ge, s[(1, 0)], s[(0, 1)]), select(le, s[(0, 1)], s[(-1, 0)]))
    a2 = select(c1, s[(1, 1)], s[(-1, 1)])
    b1 = select(c1, select(ge, s[(-1, 0)], s[(0, -1)]), select(le, s[(0, -1)], s[(1, 0)]))
    b2 = select(c1, s[(-1, -1)], s[(1, -1)])
    rest = 1 - weight
    return (a2 * weight + a1 * rest <= mag) & (b2 * weight + b1 * rest <= mag) & (c1 | c2)


def _hysteresis(candidate: Any, strong: Any) -> Any:
    """Grow ``strong`` by 3x3 dilation inside ``candidate`` until nothing changes (float {0, 1} maps)."""
    import torch.nn.functional as F

    grown = strong
    while True:
        new = grown
        for _ in range(DILATIONS_PER_ITERATION):
            new = F.max_pool2d(new, 3, stride=1, padding=1) * candidate
        if not bool((new - grown).max() > 0):
            return new
        grown = new
