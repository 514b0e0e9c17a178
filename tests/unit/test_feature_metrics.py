"""LPIPS and FID from local weights (tests make small stand-ins; nothing is downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.trainer.feature_metrics import InceptionFeatures, Lpips, _alexnet_features, frechet_distance
from tests.conftest import hole_mask, photo


def alexnet_file(path: Path) -> Path:
    """A torchvision-layout AlexNet state dict with random weights (``features.*`` + a classifier)."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in _alexnet_features().state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(4, 4)
    torch.save(state, path)
    return path


class TinyInception(torch.nn.Module):
    """The call signature of StyleGAN2-ADA's inception-2015-12-05.pt, with 8 features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.conv(x.float() / 255.0).mean(dim=(2, 3))


def test_lpips(tmp_path: Path) -> None:
    lpips = Lpips(alexnet_file(tmp_path / "alexnet.pth"))
    a, b = photo("astronaut", 64), photo("coffee", 64)
    assert lpips(a, a) == 0.0
    assert lpips(a, b) > 0 and lpips(a, b) == pytest.approx(lpips(b, a), rel=1e-5)
    noisy = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    assert lpips(a, noisy) < lpips(a, b)
    with pytest.raises(EdgeInpaintError, match="not found"):
        Lpips(tmp_path / "missing.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(EdgeInpaintError, match="not an AlexNet"):
        Lpips(tmp_path / "bad.pth")


def test_frechet_distance_of_shifted_gaussians() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    shift = np.array([1.0, -2.0, 0.5])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)


def test_inception_features_and_evaluate_cli(tmp_path: Path, tiny_weights: Path) -> None:
    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    torch.jit.script(TinyInception()).save(str(tmp_path / "inception.pt"))
    feats = InceptionFeatures(tmp_path / "inception.pt")([photo("astronaut", 32), photo("coffee", 32)])
    assert feats.shape == (2, 8)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    from PIL import Image

    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
        Image.fromarray(photo(name, 64)).save(images / f"{name}.png")
        Image.fromarray((hole_mask(64, 64, seed=i) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    result = CliRunner().invoke(
        app,
        [
            "evaluate", "-i", str(images), "-m", str(masks), "--weights", str(tiny_weights),
            "--baseline", "telea", "--lpips-weights", str(alexnet_file(tmp_path / "alexnet.pth")),
            "--fid-weights", str(tmp_path / "inception.pt"), "--report", str(tmp_path / "r.json"),
        ],
        env={"EDGEINPAINT_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r.json").read_text())["summary"]
    overall = {r["method"]: r for r in summary if r["bin"] == "all"}
    assert set(overall) == {"edgeinpaint", "opencv-telea"}
    for row in overall.values():
        assert row["lpips"] > 0 and row["fid"] >= 0
    args = ["evaluate", "-i", str(images), "-m", str(masks), "--weights", str(tiny_weights)]
    missing = CliRunner().invoke(app, [*args, "--fid-weights", "nope.pt"])
    assert missing.exit_code == 1 and "nope.pt: FID network not found" in " ".join(missing.output.split())


def test_evaluate_refuses_a_report_format_it_cannot_write(tmp_path: Path) -> None:
    """`--report ev.txt` used to write JSON into a .txt file silently: refused before any work."""
    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    args = [
        "evaluate",
        "-i",
        str(tmp_path / "none"),
        "-m",
        str(tmp_path / "none"),
        "--report",
        str(tmp_path / "ev.txt"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "expected a .json" in " ".join(result.output.split())
    assert not (tmp_path / "ev.txt").exists()
