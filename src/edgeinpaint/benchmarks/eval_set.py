"""The model card's evaluation set, reproducibly: seeded square crops of held-out photos with free-form holes.

Usage (DEST from ``scripts/get-photos.sh --split DEST``)::

    python -m edgeinpaint.benchmarks.eval_set --photos DEST/heldout --out eval
    edgeinpaint evaluate -i eval/images -m eval/masks --weights demo --baseline telea --baseline ns --baseline harmonic

Each crop is a random square (side between ``--size`` and the photo's short side) of a photo taken in
turn, resized to ``--size``² with area interpolation; crops flatter than ``--min-std`` gray levels
(e.g. a wallpaper's transparent or single-colour part) are drawn again. Masks are free-form strokes
with 10-35% holes, seeded by the crop's index, so the same command writes the same files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer


def make_eval_set(photos: Path, out: Path, crops: int, size: int, seed: int, min_std: float) -> int:
    """Write ``out/images`` and ``out/masks`` (PNG pairs named by index); returns the number of crops drawn
    and skipped as flat."""
    import cv2
    from PIL import Image

    from edgeinpaint.core.images import IMAGE_SUFFIXES
    from edgeinpaint.trainer.masks import MaskSampler

    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise typer.BadParameter(f"{photos}: no photos")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35))
    pictures = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    made = skipped = 0
    while made < crops:
        rgb = pictures[(made + skipped) % len(pictures)]
        h, w = rgb.shape[:2]
        side = int(rng.integers(min(size, min(h, w)), min(h, w) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = cv2.resize(rgb[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
        if float(crop.astype(np.float64).mean(axis=2).std()) < min_std:
            skipped += 1
            continue
        Image.fromarray(crop).save(out / "images" / f"{made:03d}.png")
        hole = sampler.sample(np.random.default_rng([seed, made]), size, size)
        Image.fromarray((hole * 255).astype(np.uint8)).save(out / "masks" / f"{made:03d}.png")
        made += 1
    return skipped


def main(
    photos: Path = typer.Option(..., help="Held-out photos (scripts/get-photos.sh --split DEST: DEST/heldout)."),
    out: Path = typer.Option(Path("eval"), help="Writes OUT/images and OUT/masks."),
    crops: int = typer.Option(35, min=1, help="Number of crops."),
    size: int = typer.Option(256, min=16, help="Side of each crop after resizing."),
    seed: int = typer.Option(0, help="Random seed (crops and masks)."),
    min_std: float = typer.Option(8.0, help="Crops whose gray standard deviation is below this are drawn again."),
) -> None:
    skipped = make_eval_set(photos, out, crops, size, seed, min_std)
    print(f"{crops} crops of {size}² in {out}/images and {out}/masks ({skipped} flat crops drawn again)")


if __name__ == "__main__":
    typer.run(main)
