"""Seams of the crop strategy: a long stroke across a large photo, crop (blended / hard boxes) vs original.

The crop strategy cuts a long stroke into boxes on a ``cell``-px grid; where two boxes' pictures meet,
a hard paste leaves a straight seam. The seam metric is the mean absolute step between neighbouring
hole pixels that straddle a grid line, divided by the same mean over every other pair of neighbouring
hole pixels: about 1 without seams (the original strategy's value is the baseline), above 1 with them.
Times are the best of ``--rounds`` alternated rounds after a warm-up, in one process.

Usage::

    python -m edgeinpaint.benchmarks.hd_seams [--weights demo] [--photo FILE] [--size 2560x1600] [--stroke 70]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer


def stroke_mask(h: int, w: int, width: int) -> np.ndarray:
    """(H, W) bool: one straight stroke of ``width`` px across the image, corner region to corner region."""
    import cv2

    hole = np.zeros((h, w), np.uint8)
    cv2.line(hole, (w // 25, h // 5), (w - w // 25, h - h // 4), 1, width)
    return hole.astype(bool)


def seam_ratio(picture: np.ndarray, hole: np.ndarray, cell: int) -> float:
    """Mean |step| across ``cell`` grid lines inside the hole ÷ mean |step| elsewhere inside the hole."""
    gray = picture.astype(np.float64).mean(axis=2)
    on_grid, off_grid = [], []
    for axis in (0, 1):
        step = np.abs(np.diff(gray, axis=axis))
        both = hole[1:, :] & hole[:-1, :] if axis == 0 else hole[:, 1:] & hole[:, :-1]
        index = np.arange(1, gray.shape[axis])  # the step between index-1 and index
        crosses = (index % cell) == 0
        crosses = crosses[:, None] if axis == 0 else crosses[None, :]
        crosses = np.broadcast_to(crosses, both.shape)
        on_grid.append(step[both & crosses])
        off_grid.append(step[both & ~crosses])
    return float(np.concatenate(on_grid).mean() / max(np.concatenate(off_grid).mean(), 1e-9))


def main(
    weights: str = typer.Option("demo", help="Weights file or bundled name."),
    photo: Path | None = typer.Option(None, help="A photo (default: scikit-image's astronaut, upscaled)."),
    size: str = typer.Option("2560x1600", help="WIDTHxHEIGHT the photo is resized to."),
    stroke: int = typer.Option(70, min=1, help="Stroke width in px."),
    rounds: int = typer.Option(2, min=1, help="Alternated timing rounds."),
) -> None:
    import cv2
    from PIL import Image

    from edgeinpaint.core.cpu import cpu_features, cpu_model
    from edgeinpaint.runtime.hd import HDConfig, HDStrategy
    from edgeinpaint.runtime.inpainter import ModelSource, PictureOptions, open_recipe

    w, h = (int(v) for v in size.lower().split("x"))
    if photo is None:
        import skimage.data

        rgb = skimage.data.astronaut()
    else:
        rgb = np.asarray(Image.open(photo).convert("RGB"))
    rgb = np.ascontiguousarray(cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA))
    hole = stroke_mask(h, w, stroke)
    configs = {
        "original": HDConfig(strategy=HDStrategy.ORIGINAL),
        "crop (blended)": HDConfig(strategy=HDStrategy.CROP),
        "crop (hard boxes)": HDConfig(strategy=HDStrategy.CROP, overlap=0),
    }
    inpainters = {
        name: open_recipe(ModelSource(weights=weights), picture=PictureOptions(hd=hd)) for name, hd in configs.items()
    }
    pictures = {name: inp(rgb, hole) for name, inp in inpainters.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in configs}
    for r in range(rounds):
        for name in list(configs)[:: 1 if r % 2 == 0 else -1]:  # alternate the order
            t0 = time.perf_counter()
            pictures[name] = inpainters[name](rgb, hole)
            times[name].append(time.perf_counter() - t0)
    cell = HDConfig().cell
    base = min(times["original"])
    machine = f"{cpu_model()}, {' '.join(cpu_features())}"
    print(f"{w}x{h}, {stroke} px stroke ({hole.mean():.1%} of the image), weights {weights}; {machine}")
    print(f"{'strategy':18} {'seam ratio':>10} {'best s':>8} {'speed vs original':>18}")
    for name in configs:
        ratio = seam_ratio(pictures[name], hole, cell)
        best = min(times[name])
        print(f"{name:18} {ratio:10.3f} {best:8.2f} {base / best:17.2f}x")
    for inp in inpainters.values():
        inp.close()


if __name__ == "__main__":
    typer.run(main)
