"""`edgeinpaint canny` writes binary edge maps identical for both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.cli import app
from edgeinpaint.core.images import rgb_to_gray
from tests.conftest import hole_mask, photo

runner = CliRunner()


def test_canny_cli_backends_agree_with_skimage(tmp_path: Path) -> None:
    images, masks = tmp_path / "in", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, name in enumerate(("astronaut", "coffee")):
        Image.fromarray(photo(name, 97)).save(images / f"{name}.jpg", quality=98)
        Image.fromarray((hole_mask(97, 97, seed=i) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    (images / "broken.png").write_bytes(b"nope")
    outs = {}
    for backend in ("exact", "fast", "reference"):
        out = tmp_path / backend
        result = runner.invoke(
            app,
            [
                "canny",
                "-i",
                str(images),
                "-m",
                str(masks),
                "-o",
                str(out),
                "--canny",
                backend,
                "--sigma",
                "1.5",
            ],
        )
        assert result.exit_code == 1  # broken.png fails (and has no mask), the rest is written
        assert "done 2, failed 1" in " ".join(result.output.split())
        outs[backend] = {p.name: np.asarray(Image.open(p)) for p in out.iterdir()}
    assert outs["exact"].keys() == {"astronaut.png", "coffee.png"}
    for name, edges in outs["exact"].items():
        assert edges.ndim == 2 and set(np.unique(edges)) <= {0, 255}
        assert np.array_equal(edges, outs["reference"][name])
        rgb = np.asarray(Image.open(images / name.replace(".png", ".jpg")).convert("RGB"))
        hole = np.asarray(Image.open(masks / name)) > 127
        ref = canny_reference(rgb_to_gray(rgb / 255.0), 1.5, 0.1, 0.2, known=~hole)
        assert np.array_equal(edges > 0, ref)
        fast = outs["fast"][name] > 0
        assert 2 * (fast & ref).sum() / (fast.sum() + ref.sum()) >= 0.999
