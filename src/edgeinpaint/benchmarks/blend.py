"""Time of the Poisson composite (core/blend.py): one sparse solve per image.

Usage::

    python -m edgeinpaint.benchmarks.blend [--size 256] [--hole 0.3] [--repeat 15]
"""

from __future__ import annotations

import time

import numpy as np
import typer


def main(
    size: int = typer.Option(256, min=16, help="Square image side."),
    hole: float = typer.Option(0.3, min=0.01, max=0.9, help="Hole share (free-form strokes)."),
    repeat: int = typer.Option(15, min=1, help="Timed solves (after one warm-up)."),
) -> None:
    from edgeinpaint.core.blend import blend
    from edgeinpaint.core.cpu import cpu_features, cpu_model
    from edgeinpaint.trainer.masks import MaskSampler

    rng = np.random.default_rng(0)
    mask = MaskSampler({"free_form": 1.0}, ratio=(hole * 0.95, hole * 1.05)).sample(rng, size, size)
    output = rng.random((size, size, 3)).astype(np.float32)
    rgb = (rng.random((size, size, 3)) * 255).astype(np.uint8)
    blend(output, rgb, mask, "poisson")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        blend(output, rgb, mask, "poisson")
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1e3
    print(
        f"poisson composite, {size}² with a {mask.mean():.0%} hole: median {np.median(ms):.1f} ms "
        f"(min {ms.min():.1f}, max {ms.max():.1f}; {repeat} solves); {cpu_model()}, {' '.join(cpu_features())}"
    )


if __name__ == "__main__":
    typer.run(main)
