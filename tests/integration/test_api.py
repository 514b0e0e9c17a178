"""The Python API: README's example runs as written and gives `run`'s bytes; arrays, PIL images, lists,
masks as bool or 0/255, 16-bit, and the library's own errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edgeinpaint
from tests.conftest import hole_mask, photo

ROOT = Path(__file__).parents[2]


def test_readme_example_runs_and_gives_runs_bytes(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- python-api-example:.*?-->\n```python\n(.*?)```", text, re.S)
    assert block, "README's Python API example is missing"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "example.py").write_text(block.group(1))
    env = {**os.environ, "EDGEINPAINT_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mask is 256x64 but the image is 256x256" in done.stdout  # the error it shows
    argv = ["run", "--weights", "demo", "--backend", "onnxruntime", "-i", "examples/images", "-m", "examples/masks"]
    ran = subprocess.run([sys.executable, "-m", "edgeinpaint.cli", *argv, "-o", "run-output"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    names = sorted(p.name for p in (tmp_path / "examples" / "images").iterdir())
    assert sorted(p.name for p in (tmp_path / "api-output").iterdir()) == names
    for name in names:
        assert (tmp_path / "api-output" / name).read_bytes() == (tmp_path / "run-output" / name).read_bytes(), name


@pytest.fixture(scope="module")
def model(tiny_artifacts: Path) -> edgeinpaint.Inpainter:
    with edgeinpaint.Inpainter(artifacts=tiny_artifacts, backend="onnxruntime") as opened:
        yield opened


def test_arrays_pil_lists_and_masks_agree_with_files(model: edgeinpaint.Inpainter, tmp_path: Path) -> None:
    rgb = photo("rocket", 64)
    hole = hole_mask(64, 64, seed=4).astype(bool)
    Image.fromarray(rgb).save(tmp_path / "r.png")
    Image.fromarray(hole.astype(np.uint8) * 255).save(tmp_path / "m.png")
    from_files = model(tmp_path / "r.png", str(tmp_path / "m.png"))
    assert from_files.dtype == np.uint8 and from_files.shape == (64, 64, 3)
    assert np.array_equal(from_files[~hole], rgb[~hole])
    masks = [hole, hole.astype(np.uint8) * 255, hole.astype(np.uint8), Image.fromarray(hole.astype(np.uint8) * 255)]
    pictures = model([rgb, rgb, rgb, Image.fromarray(rgb)], masks)
    for picture in pictures[:3]:
        assert np.array_equal(picture, from_files)
    assert isinstance(pictures[3], Image.Image) and np.array_equal(np.asarray(pictures[3]), from_files)
    rgba = np.dstack([rgb, np.where(hole, 0, 255).astype(np.uint8)])  # no mask: the alpha's hole
    assert np.array_equal(model(rgba), from_files)
    deep = rgb.astype(np.uint16) * 257 + 3  # 16-bit: known pixels exact, the hole at 8 bits x 257
    painted = model(deep, hole)
    assert painted.dtype == np.uint16 and np.array_equal(painted[~hole], deep[~hole])


def test_errors_are_the_librarys_own(model: edgeinpaint.Inpainter, tiny_artifacts: Path, tmp_path: Path) -> None:
    rgb = photo("rocket", 64)
    hole = hole_mask(64, 64, seed=4).astype(bool)
    with pytest.raises(edgeinpaint.InputError, match="mask is 64x32 but the image is 64x64"):
        model(rgb, hole[:32])
    with pytest.raises(edgeinpaint.InputError, match="float64 pixels; expected uint8 or uint16"):
        model(rgb / 255.0, hole)
    with pytest.raises(edgeinpaint.InputError, match="2 images but 1 masks"):
        model([rgb, rgb], [hole])
    with pytest.raises(edgeinpaint.InputError, match="no mask and no alpha channel"):
        model(rgb)
    capped = edgeinpaint.Inpainter(artifacts=tiny_artifacts, backend="onnxruntime", max_pixels=4000)
    with capped, pytest.raises(edgeinpaint.TooLarge, match="64x64 = 4,096 pixels; at most 4,000"):
        capped(rgb, hole)
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(edgeinpaint.InputError, match=r"x\.png: cannot decode"):
        model(tmp_path / "x.png", hole)
    with pytest.raises(edgeinpaint.InputError, match="backend='cuda9'"):
        edgeinpaint.Inpainter(backend="cuda9")
    with pytest.raises(TypeError, match="unexpected keyword argument 'presett'"):
        edgeinpaint.Inpainter(presett="official")  # type: ignore[call-arg]


def test_settings_apply_the_preset_and_then_each_explicit_choice() -> None:
    """``settings`` (what `run` hands its workers, what Inpainter opens): the preset, then each explicit option."""
    official = edgeinpaint.settings(preset="official", hd_strategy="resize", resize_limit=512)
    assert official.recipe == edgeinpaint.settings(preset="official").recipe
    assert (official.load.mask_threshold, official.picture.rounding.value, official.engine.canny.value) == (
        0, "truncate", "exact")  # fmt: skip
    assert (official.picture.hd.strategy.value, official.picture.hd.resize_limit) == ("resize", 512)
    mixed = edgeinpaint.settings(preset="official", to_8bit="round", mask_threshold=10, canny="fast", weights="demo")
    assert (mixed.load.mask_threshold, mixed.picture.rounding.value, mixed.engine.canny.value) == (10, "round", "fast")
    assert mixed.picture.edge_source.value == "raw" and mixed.source.weights == "demo"
    with pytest.raises(edgeinpaint.InputError, match="to_8bit='ceil': expected one of round, truncate"):
        edgeinpaint.settings(to_8bit="ceil")
