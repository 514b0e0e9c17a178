"""Install extras that work together: one ONNX Runtime flavour per extra, pins that match the drivers."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]


def reqs(items: list[str]) -> dict[str, Requirement]:
    return {Requirement(r).name: Requirement(r) for r in items}


def test_base_install_has_no_onnxruntime_to_collide_with_the_gpu_build() -> None:
    assert not [r for r in reqs(PYPROJECT["dependencies"]) if r.startswith("onnxruntime")]
    assert "onnxruntime" in reqs(PYPROJECT["optional-dependencies"]["cpu"])


#: Facts read from the released wheels with `python scripts/check_gpu_extras.py --wheels` (pip's dry-run
#: report for METADATA, readelf for the provider libraries' NEEDED entries), 2026-12: the CUDA major each
#: onnxruntime-gpu release is built for, and the TensorRT major its TensorRT provider links (libnvinfer.so.N).
ORT_GPU_RELEASES = ["1.24.4", "1.25.1", "1.26.0", "1.27.0", "1.28.0", "1.29.0", "1.30.0", "1.31.0", "1.31.1"]


def ort_cuda_major(version: str) -> int:
    return 12 if Version(version) < Version("1.27") else 13


ORT_TRT_PROVIDER_LINKS_TENSORRT = 10  # 1.26.0, 1.27.0, 1.31.1 read; every release up to 1.31.1


def test_gpu_extras_pin_versions_that_work_together() -> None:
    extras = PYPROJECT["optional-dependencies"]
    assert extras["gpu"] == extras["cuda12"]  # the previous name
    python = Requirement("python" + PYPROJECT["requires-python"]).specifier
    assert python.contains("3.11") and not python.contains("3.10")  # onnxruntime-gpu >= 1.26 (and tomllib)
    for name, major in (("cuda12", 12), ("cuda13", 13)):
        r = reqs(extras[name])
        assert "onnxruntime" not in r and {"cuda", "cudnn"} <= r["onnxruntime-gpu"].extras, name
        allowed = [v for v in ORT_GPU_RELEASES if r["onnxruntime-gpu"].specifier.contains(v)]
        assert allowed and {ort_cuda_major(v) for v in allowed} == {major}, (name, allowed)
        assert max(Version(v) for v in allowed) <= Version("1.31.1"), "a newer ORT: re-read its TensorRT provider"
        trt = next(v for k, v in r.items() if k.startswith("tensorrt"))
        assert trt.name == f"tensorrt-cu{major}"
        assert trt.specifier.contains("10.13.3.9") and not trt.specifier.contains("11.0.0.114"), name
        assert ORT_TRT_PROVIDER_LINKS_TENSORRT == 10
        cuda_python = r["cuda-python"]
        assert not cuda_python.specifier.contains("12.6.0"), "cuda-python 12.6.0 has no cuda.bindings"
        assert {int(v.split(".")[0]) for v in ("12.9.10", "13.4.4") if cuda_python.specifier.contains(v)} == {major}


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
