"""Regenerate docs/results.jpg: input | mask | output of the bundled demo weights on examples/.

    python scripts/results_picture.py            # writes docs/results.jpg

Run it after changing the demo weights or the runtime, so the README's picture stays true.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgeinpaint.core.images import decode_image, decode_mask
from edgeinpaint.core.specs import Backend
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    inpainter = open_recipe(ModelSource(weights="demo"), EngineOptions(backend=Backend.ONNXRUNTIME))
    rows = []
    for image in sorted((ROOT / "examples" / "images").glob("*.png")):
        rgb = decode_image(image).rgb
        hole = decode_mask(ROOT / "examples" / "masks" / image.name)
        shown = rgb.copy()
        shown[hole] = (255, 255, 255)  # the hole as the network sees it
        rows.append(np.concatenate([rgb, shown, inpainter(rgb, hole)], axis=1))
    width = min(r.shape[1] for r in rows)
    grid = np.concatenate([r[:, :width] for r in rows], axis=0)
    out = ROOT / "docs" / "results.jpg"
    Image.fromarray(grid).save(out, quality=88, optimize=True)
    print(f"wrote {out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
