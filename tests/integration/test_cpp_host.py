"""The C++ host (hosts/cpp): built with CMake, exact Canny, same outputs as the Python runtime.

Needs cmake, a C++17 compiler and Debian's libopencv-dev, nlohmann-json3-dev and libssl-dev
(.ci/run installs them); skipped with the reason when they are missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.core.images import rgb_to_gray
from tests.conftest import hole_mask, photo

HOST = Path(__file__).resolve().parents[2] / "hosts" / "cpp"


def _missing() -> str | None:
    if shutil.which("cmake") is None:
        return "cmake not installed"
    if subprocess.run(["pkg-config", "--exists", "opencv4"], capture_output=True).returncode != 0:
        return "OpenCV development files (libopencv-dev) not installed"
    if not Path("/usr/include/nlohmann/json.hpp").is_file():
        return "nlohmann-json3-dev not installed"
    return None


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _missing()
    if reason:
        pytest.skip(f"C++ host not built: {reason}")
    out = tmp_path_factory.mktemp("cpp_build")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(HOST), "-B", str(out), *generator], check=True, capture_output=True)
    result = subprocess.run(["cmake", "--build", str(out), "-j", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def run_host(build: Path, artifacts: Path, images: Path, masks: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """edgeinpaint-cpp --artifacts A --input I --mask M --output O."""
    args = ["--artifacts", str(artifacts), "--input", str(images), "--mask", str(masks), "--output", str(out)]
    return subprocess.run([str(build / "edgeinpaint-cpp"), *args], capture_output=True, text=True)


def test_cpp_canny_is_bit_exact(build: Path, tmp_path: Path) -> None:
    from edgeinpaint.canny.graph import gaussian_kernel

    for i, (name, sigma) in enumerate((("astronaut", 2.0), ("coffee", 1.5), ("chelsea", 3.0))):
        gray = rgb_to_gray(photo(name, 97 + i) / 255.0)
        known = ~hole_mask(*gray.shape, seed=i)
        gray.tofile(tmp_path / "g.f64")
        known.astype(np.uint8).tofile(tmp_path / "k.u8")
        gaussian_kernel(sigma).tofile(tmp_path / "w.f64")
        h, w = gray.shape
        args = [str(build / "canny-cpp"), str(tmp_path / "g.f64"), str(tmp_path / "k.u8"), str(h), str(w), "0.1", "0.2"]
        subprocess.run([*args, str(tmp_path / "w.f64"), str(tmp_path / "e.u8")], check=True)
        got = np.fromfile(tmp_path / "e.u8", np.uint8).reshape(h, w).astype(bool)
        ref = canny_reference(gray, sigma, 0.1, 0.2, known=known)
        assert ref.sum() > 0 and np.array_equal(got, ref), name


@pytest.mark.parametrize("blend", ["paste", "poisson"])
def test_cpp_host_matches_python(build: Path, tiny_artifacts: Path, tmp_path: Path, blend: str) -> None:
    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    if blend != "paste":  # the same files, with weights that ask for the Poisson composite
        artifacts = tmp_path / "artifacts"
        shutil.copytree(tiny_artifacts, artifacts)
        manifest = json.loads((artifacts / "manifest.json").read_text())
        manifest["weights"]["blend"] = blend
        (artifacts / "manifest.json").write_text(json.dumps(manifest))
        tiny_artifacts = artifacts

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")):
        Image.fromarray(photo(name, 256)).save(images / f"{name}.png")
        Image.fromarray((hole_mask(256, 256, seed=i) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    Image.fromarray(photo("coffee", None)[:101, :133]).save(images / "odd.png")  # padding path
    Image.fromarray((hole_mask(101, 133) * 255).astype(np.uint8)).save(masks / "odd.png")
    cpp = run_host(build, tiny_artifacts, images, masks, tmp_path / "cpp")
    assert cpp.returncode == 0, cpp.stderr
    py = CliRunner().invoke(
        app,
        [
            "run",
            "-i",
            str(images),
            "-m",
            str(masks),
            "-o",
            str(tmp_path / "py"),
            "--artifacts",
            str(tiny_artifacts),
            "--in-process",
        ],
    )
    assert py.exit_code == 0
    for f in sorted((tmp_path / "py").iterdir()):
        a = np.asarray(Image.open(f).convert("RGB")).astype(np.float64)
        b = np.asarray(Image.open(tmp_path / "cpp" / f.name).convert("RGB")).astype(np.float64)
        mse = np.mean((a - b) ** 2)
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 45, f.name


def test_cpp_host_bad_inputs(build: Path, tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    Image.fromarray(photo("astronaut", 64)).save(images / "good.png")
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(masks / "good.png")
    (images / "broken.png").write_bytes(b"not a png")
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(masks / "broken.png")
    Image.fromarray(photo("coffee", 64)).save(images / "size.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(masks / "size.png")
    run = run_host(build, tiny_artifacts, images, masks, tmp_path / "out")
    assert run.returncode == 1
    # A mask of another size is resized with a warning, as `edgeinpaint run` does (it used to be refused).
    assert "broken.png: cannot decode image" in run.stderr and "resized with nearest neighbour" in run.stderr
    assert "done 2, failed 1" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png", "size.png"]
    missing = run_host(build, tmp_path / "nothing", images, masks, tmp_path / "o2")
    assert missing.returncode == 1 and "no manifest" in missing.stderr
    # a tampered model is refused by its sha256
    tampered = tmp_path / "art"
    shutil.copytree(tiny_artifacts, tampered)
    model = tampered / "inpaint_generator.fp32.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    run = run_host(build, tampered, images, masks, tmp_path / "o3")
    assert run.returncode == 1 and "sha256" in run.stderr
    # unknown I/O spec
    manifest = json.loads((tiny_artifacts / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["role"] == "edge_generator" and entry["precision"] == "fp32":
            entry["inputs"][0]["name"] = "grey"
    odd = tmp_path / "art2"
    shutil.copytree(tiny_artifacts, odd)
    (odd / "manifest.json").write_text(json.dumps(manifest))
    run = run_host(build, odd, images, masks, tmp_path / "o4")
    assert run.returncode == 1 and "unknown I/O spec" in run.stderr


def _pair(
    folder: Path, name: str = "a", size: tuple[int, int] = (64, 48), mask_size: tuple[int, int] | None = None
) -> None:
    (folder / "i").mkdir(parents=True, exist_ok=True)
    (folder / "m").mkdir(parents=True, exist_ok=True)
    w, h = size
    Image.fromarray(photo("coffee", None)[:h, :w]).save(folder / "i" / f"{name}.png")
    mw, mh = mask_size or size
    Image.fromarray((hole_mask(mh, mw, seed=1) * 255).astype(np.uint8)).save(folder / "m" / f"{name}.png")


def test_cpp_host_refuses_outputs_that_replace_inputs(build: Path, tiny_artifacts: Path, tmp_path: Path) -> None:
    """The same rules as `edgeinpaint run`: --output equal to the input or mask folder (or a symlink to it) is
    refused before any work, and the originals are untouched."""
    _pair(tmp_path)
    before = (tmp_path / "i" / "a.png").read_bytes()
    (tmp_path / "link").symlink_to(tmp_path / "i")
    for out in (tmp_path / "i", tmp_path / "link", tmp_path / "m", tmp_path / "m" / "sub"):
        run = run_host(build, tiny_artifacts, tmp_path / "i", tmp_path / "m", out)
        assert run.returncode == 1 and "choose another output folder" in run.stderr, (out, run.stderr)
    assert (tmp_path / "i" / "a.png").read_bytes() == before and not (tmp_path / "m" / "sub").exists()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "WEBP", "TIFF"])
def test_cpp_host_refuses_too_many_pixels_from_the_header(
    build: Path, tiny_artifacts: Path, tmp_path: Path, fmt: str
) -> None:
    _pair(tmp_path)
    rgb = np.asarray(Image.open(tmp_path / "i" / "a.png"))
    (tmp_path / "i" / "a.png").unlink()
    suffix = {"JPEG": "jpg", "TIFF": "tif"}.get(fmt, fmt.lower())
    Image.fromarray(rgb).save(tmp_path / "i" / f"a.{suffix}", format=fmt)
    args = ["--artifacts", str(tiny_artifacts), "--input", str(tmp_path / "i"), "--mask", str(tmp_path / "m")]
    run = subprocess.run(
        [str(build / "edgeinpaint-cpp"), *args, "--output", str(tmp_path / "o"), "--max-pixels", "1000"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 1 and "64x48 = 3072 pixels; at most 1000" in run.stderr, run.stderr


def test_cpp_host_manifest_and_artifact_rules(build: Path, tiny_artifacts: Path, tmp_path: Path) -> None:
    """A manifest without sha256 fields, a 50 MB manifest or a symlinked model is one line of error (never an
    abort), as Python refuses them; a mask of another size is resized with a warning, as `run` does."""
    _pair(tmp_path, mask_size=(32, 24))
    ok = run_host(build, tiny_artifacts, tmp_path / "i", tmp_path / "m", tmp_path / "o")
    assert ok.returncode == 0 and "resized with nearest neighbour" in ok.stderr, ok.stderr
    no_sha = tmp_path / "no_sha"
    shutil.copytree(tiny_artifacts, no_sha)
    manifest = json.loads((no_sha / "manifest.json").read_text())
    for entry in manifest["files"]:
        entry.pop("sha256")
    (no_sha / "manifest.json").write_text(json.dumps(manifest))
    run = run_host(build, no_sha, tmp_path / "i", tmp_path / "m", tmp_path / "o1")
    assert run.returncode == 1 and "manifest.json: malformed manifest" in run.stderr, (run.returncode, run.stderr)
    huge = tmp_path / "huge"
    shutil.copytree(tiny_artifacts, huge)
    (huge / "manifest.json").write_text((huge / "manifest.json").read_text() + " " * (50 << 20))
    run = run_host(build, huge, tmp_path / "i", tmp_path / "m", tmp_path / "o2")
    assert run.returncode == 1 and "a manifest is a few KB" in run.stderr
    linked = tmp_path / "linked"
    shutil.copytree(tiny_artifacts, linked)
    (tmp_path / "elsewhere.onnx").write_bytes((linked / "edge_generator.fp32.onnx").read_bytes())
    (linked / "edge_generator.fp32.onnx").unlink()
    (linked / "edge_generator.fp32.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    run = run_host(build, linked, tmp_path / "i", tmp_path / "m", tmp_path / "o3")
    assert run.returncode == 1 and "is a symlink" in run.stderr


def _python_run(images: Path, masks: Path, out: Path, artifacts: Path) -> None:
    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    args = ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(artifacts), "--in-process"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def test_cpp_host_crops_large_images_as_python(build: Path, tiny_artifacts: Path, tmp_path: Path) -> None:
    """Above 1024 px the host inpaints crops around the holes with Python's boxes and blend (a long stroke is
    cut into blended boxes); --hd-strategy original with a network-call cap refuses that file, named."""
    import cv2

    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    rgb = cv2.resize(photo("astronaut", None), (1300, 360), interpolation=cv2.INTER_AREA)
    Image.fromarray(rgb).save(tmp_path / "i" / "wide.png")
    mask = np.zeros((360, 1300), np.uint8)
    cv2.line(mask, (60, 80), (1240, 290), 255, 18)  # one stroke across many 128 px cells
    cv2.circle(mask, (1100, 70), 25, 255, -1)
    Image.fromarray(mask).save(tmp_path / "m" / "wide.png")
    cpp = run_host(build, tiny_artifacts, tmp_path / "i", tmp_path / "m", tmp_path / "cpp")
    assert cpp.returncode == 0, cpp.stderr
    _python_run(tmp_path / "i", tmp_path / "m", tmp_path / "py", tiny_artifacts)
    a = np.asarray(Image.open(tmp_path / "py" / "wide.png")).astype(np.float64)
    b = np.asarray(Image.open(tmp_path / "cpp" / "wide.png")).astype(np.float64)
    known = mask == 0
    assert np.array_equal(a[known], rgb[known]) and np.array_equal(b[known], rgb[known])
    mse = np.mean((a - b) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 45
    args = ["--artifacts", str(tiny_artifacts), "--input", str(tmp_path / "i"), "--mask", str(tmp_path / "m")]
    capped = [*args, "--output", str(tmp_path / "o2"), "--max-network-pixels", "300000"]
    whole = subprocess.run(
        [str(build / "edgeinpaint-cpp"), *capped, "--hd-strategy", "original"], capture_output=True, text=True
    )
    assert whole.returncode == 1 and "wide.png: the networks would run on 1300x360" in whole.stderr, whole.stderr
    assert "done 0, failed 1" in whole.stdout and not (tmp_path / "o2" / "wide.png").exists()
    crops = subprocess.run([str(build / "edgeinpaint-cpp"), *capped], capture_output=True, text=True)
    assert crops.returncode == 0, crops.stderr  # every crop is under the cap


def test_cpp_host_keeps_16_bits(build: Path, tiny_artifacts: Path, tmp_path: Path) -> None:
    """16-bit colour and grey PNGs come out at 16 bits (as RGB), known pixels exactly the file's, and equal
    to `edgeinpaint run`'s output; a 16-bit and a 0/1 mask are read as Python reads them."""
    import cv2

    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    rng = np.random.default_rng(3)
    deep = photo("coffee", 64).astype(np.uint16) * 257 + rng.integers(0, 257, (64, 64, 3)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "i" / "colour.png"), deep[..., ::-1])
    grey = photo("astronaut", 64)[..., 1].astype(np.uint16) * 257 + 100
    cv2.imwrite(str(tmp_path / "i" / "grey.png"), grey)
    hole = hole_mask(64, 64, seed=5)
    cv2.imwrite(str(tmp_path / "m" / "colour.png"), hole.astype(np.uint16) * 65535)  # a 16-bit mask
    cv2.imwrite(str(tmp_path / "m" / "grey.png"), hole.astype(np.uint8))  # a 0/1 mask
    cpp = run_host(build, tiny_artifacts, tmp_path / "i", tmp_path / "m", tmp_path / "cpp")
    assert cpp.returncode == 0 and "holds only 0 and 1" in cpp.stderr, cpp.stderr
    _python_run(tmp_path / "i", tmp_path / "m", tmp_path / "py", tiny_artifacts)
    for name, source in (("colour", deep), ("grey", np.repeat(grey[..., None], 3, axis=2))):
        b = cv2.imread(str(tmp_path / "cpp" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        a = cv2.imread(str(tmp_path / "py" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert b.dtype == np.uint16 and b.shape == (64, 64, 3) and a.shape == b.shape, name
        assert np.array_equal(b[..., ::-1][~hole], source[~hole]), name  # known pixels: the file's 16 bits
        mse = np.mean((a.astype(np.float64) - b) ** 2)
        assert mse == 0 or 10 * np.log10(65535**2 / mse) >= 45, name
        assert not np.array_equal(b[..., ::-1][hole], source[hole]), name  # the hole was inpainted
