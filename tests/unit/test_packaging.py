"""Install extras that work together: one ONNX Runtime flavour per extra, pins that match the drivers."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]


def reqs(items: list[str]) -> dict[str, Requirement]:
    return {Requirement(r).name: Requirement(r) for r in items}


def test_base_install_has_no_onnxruntime_to_collide_with_the_gpu_build() -> None:
    assert not [r for r in reqs(PYPROJECT["dependencies"]) if r.startswith("onnxruntime")]
    assert "onnxruntime" in reqs(PYPROJECT["optional-dependencies"]["cpu"])


def test_gpu_extras_pin_versions_that_work_together() -> None:
    extras = PYPROJECT["optional-dependencies"]
    for name in ("cuda12", "cuda13", "gpu"):
        r = reqs(extras[name])
        assert "onnxruntime" not in r and "onnxruntime-gpu" in r, name
        trt = next(v for k, v in r.items() if k.startswith("tensorrt"))
        # TensorRT 11 is allowed only where ONNX Runtime's TensorRT EP supports it (ORT >= 1.27).
        if trt.specifier.contains(Version("11.0")):
            assert not r["onnxruntime-gpu"].specifier.contains(Version("1.26")), name
    # CUDA 12 drivers: cuda-python 13 needs R580+ and reports "no CUDA device" on older drivers.
    for name in ("cuda12", "gpu"):
        cp = reqs(extras[name])["cuda-python"]
        assert not cp.specifier.contains(Version("13.0")) and cp.specifier.contains(Version("12.9"))
        assert re.search(r"cu12", " ".join(extras[name]))
    assert reqs(extras["cuda13"])["cuda-python"].specifier.contains(Version("13.4"))


def test_get_photos_splits_by_picture_and_holds_out_the_model_cards_set(tmp_path: Path) -> None:
    """Every resolution of one wallpaper lands on one side, and the held-out side is the card's 8 pictures."""
    import re
    import subprocess

    root = Path(__file__).resolve().parents[2]
    card = (root / "src/edgeinpaint/weights/bundled/MODEL_CARD.md").read_text()
    named = re.search(r"held out \(8 photos: ([^)]*)\)", " ".join(card.split()))
    assert named is not None
    heldout = [n.strip() for n in named.group(1).split(",")]
    source = tmp_path / "all"
    source.mkdir()
    files = ["mate-Elephants.jpg", "mate-Elephants_3840x2160.jpg", "mate-Elephants_5640x3172.jpg", "plasma-Opal.png"]
    files += [f"{name}.jpg" for name in heldout] + [f"{heldout[0]}_1920x1080.jpg"]
    for name in files:
        (source / name).write_bytes(b"x")
    dest = tmp_path / "photos"
    done = subprocess.run(
        ["bash", str(root / "scripts/get-photos.sh"), "--split", "--from", str(source), str(dest)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    held = sorted(p.name for p in (dest / "heldout").iterdir())
    train = sorted(p.name for p in (dest / "train").iterdir())
    assert held == sorted([f"{name}.jpg" for name in heldout] + [f"{heldout[0]}_1920x1080.jpg"])
    assert train == ["mate-Elephants.jpg", "mate-Elephants_3840x2160.jpg", "mate-Elephants_5640x3172.jpg",
                     "plasma-Opal.png"]  # fmt: skip
