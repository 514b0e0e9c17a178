"""Outputs keep what the input had: alpha channels, 16-bit depth, and the known pixels exactly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import hole_mask, photo

runner = CliRunner()


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rgb = photo("astronaut", 64)
    alpha = np.tile(np.linspace(10, 250, 64).astype(np.uint8), (64, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(images / "rgba.png")
    deep = (photo("coffee", 64)[..., 1].astype(np.uint16) * 257 + 123).astype(np.uint16)
    Image.fromarray(deep).save(images / "deep.png")  # PIL writes a 16-bit gray PNG (mode I;16)
    for name in ("rgba", "deep"):
        Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    return images, masks, alpha, deep


@pytest.mark.parametrize("mode", [["--in-process"], ["--pipeline", "--workers", "1"]])
def test_alpha_and_16_bit_survive(
    inputs: tuple[Path, Path, np.ndarray, np.ndarray], tiny_artifacts: Path, tmp_path: Path, mode: list[str]
) -> None:
    images, masks, alpha, deep = inputs
    out = tmp_path / "out"
    args = ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts), *mode]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    hole = hole_mask(64, 64)
    rgba = np.asarray(Image.open(out / "rgba.png"))
    assert rgba.shape == (64, 64, 4) and np.array_equal(rgba[..., 3], alpha)
    back = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (64, 64, 3)
    assert np.array_equal(back[..., 0][~hole], deep[~hole])  # known pixels: the 16-bit values themselves
    assert not np.array_equal(back[..., 0][hole], deep[hole])


def test_alpha_as_the_mask_is_filled_and_dropped(tiny_artifacts: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rgb = photo("chelsea", 64)
    hole = hole_mask(64, 64)
    Image.fromarray(np.dstack([rgb, np.where(hole, 0, 255).astype(np.uint8)]), "RGBA").save(images / "cut.png")
    out = tmp_path / "out"
    args = ["run", "-i", str(images), "-m", "alpha", "-o", str(out), "--artifacts", str(tiny_artifacts)]
    result = runner.invoke(app, [*args, "--in-process"])
    assert result.exit_code == 0, result.output
    painted = np.asarray(Image.open(out / "cut.png"))
    assert painted.shape == (64, 64, 3) and np.array_equal(painted[~hole], rgb[~hole])


@pytest.mark.parametrize(("suffix", "channels"), [(".png", 3), (".png", 4), (".tiff", 3)])
def test_16_bit_colour_keeps_its_depth(tiny_artifacts: Path, tmp_path: Path, suffix: str, channels: int) -> None:
    """16-bit colour PNG/TIFF (PIL reads them as 8-bit RGB) keep every known pixel's 16-bit value; the hole is
    the 8-bit result x257; a 16-bit alpha channel is kept."""
    rng = np.random.default_rng(4)
    rgb8 = photo("coffee", 64).astype(np.uint16)
    deep = rgb8 * 257 + rng.integers(0, 257, rgb8.shape).astype(np.uint16)  # values no 8-bit file can hold
    planes = [deep[..., 2], deep[..., 1], deep[..., 0]]
    if channels == 4:
        planes.append(np.full(deep.shape[:2], 40000, np.uint16))
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    assert cv2.imwrite(str(tmp_path / "i" / f"a{suffix}"), np.dstack(planes))
    hole = hole_mask(64, 64, seed=2)
    Image.fromarray((hole * 255).astype(np.uint8)).save(tmp_path / "m" / "a.png")
    argv = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "m"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*argv, "--artifacts", str(tiny_artifacts)])
    assert result.exit_code == 0, result.output
    out = cv2.imread(str(tmp_path / "o" / f"a{suffix}"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape[2] == channels
    rgb = out[..., 2::-1]
    assert np.array_equal(rgb[~hole], deep[~hole])  # known pixels: the file's own 16-bit values
    assert np.all(rgb[hole] % 257 == 0) and not np.array_equal(rgb[hole], deep[hole])
    if channels == 4:
        assert np.all(out[..., 3] == 40000)
