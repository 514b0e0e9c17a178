"""The PyTorch engine's fast-path options run on the CPU too (CUDA graphs need a GPU: tests/gpu)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.runtime.engines.torch import TorchEngine
from edgeinpaint.weights.format import load_weights


def test_channels_last_and_bf16_autocast_agree_with_eager_fp32(tiny_weights: Path) -> None:
    weights = load_weights(tiny_weights)
    names = (tuple(s.name for s in specs.INPAINT_GENERATOR_INPUTS), ("inpainted",))
    rng = np.random.default_rng(0)
    feeds = {
        "image": rng.random((2, 3, 32, 48), np.float32),
        "edges": (rng.random((2, 1, 32, 48)) > 0.8).astype(np.float32),
        "mask": (rng.random((2, 1, 32, 48)) > 0.7).astype(np.float32),
    }
    ref = TorchEngine(weights.build("inpaint_generator"), *names).run(feeds)["inpainted"]
    nhwc = TorchEngine(weights.build("inpaint_generator"), *names, channels_last=True).run(feeds)["inpainted"]
    assert np.abs(nhwc - ref).max() < 1e-4
    bf16 = TorchEngine(weights.build("inpaint_generator"), *names, autocast="bfloat16")
    out = bf16.run(feeds)["inpainted"]
    assert out.dtype == np.float32 and out.shape == ref.shape
    mse = float(np.mean((out - ref) ** 2))
    assert mse == 0 or 10 * np.log10(1 / mse) > 25  # BF16 has 8 mantissa bits
    bf16.close()
    bf16.close()
