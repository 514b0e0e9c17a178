"""Export -> artifacts -> run: parity with PyTorch and with the official test procedure, bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.errors import ArtifactError
from edgeinpaint.core.manifest import read_manifest
from edgeinpaint.core.specs import Backend
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
from tests.conftest import hole_mask, photo, write_official_folder

runner = CliRunner()


def official_procedure(folder: Path, rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """An independent re-implementation of EdgeConnect's test script (with rounding instead of truncation).

    Uses the *unfolded* spectral-norm edge generator loaded from the official files.
    """
    import yaml
    from skimage.color import rgb2gray
    from skimage.feature import canny

    from edgeinpaint.models import Architecture, EdgeGenerator, InpaintGenerator

    sigma = yaml.safe_load((folder / "config.yml").read_text())["SIGMA"]
    gray = rgb2gray(rgb)
    edges = canny(gray, sigma=sigma, mask=(1 - hole.astype(np.uint8)).astype(bool)).astype(np.float32)
    arch = Architecture(8, 1)
    edge_g, inpaint_g = EdgeGenerator(arch, use_spectral_norm=True), InpaintGenerator(arch)
    strip = lambda sd: {k.removeprefix("module."): v for k, v in sd.items()}  # noqa: E731
    edge_g.load_state_dict(strip(torch.load(folder / "EdgeModel_gen.pth", weights_only=True)["generator"]))
    inpaint_g.load_state_dict(strip(torch.load(folder / "InpaintingModel_gen.pth", weights_only=True)["generator"]))
    edge_g.eval()
    inpaint_g.eval()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    images = t(rgb.transpose(2, 0, 1) / 255.0)[None]
    gray_t, edges_t, masks = t(gray)[None, None], t(edges)[None, None], t(hole)[None, None]
    with torch.no_grad():
        inputs = torch.cat([gray_t * (1 - masks) + masks, edges_t * (1 - masks), masks], 1)
        e_out = edge_g(inputs)
        e_out = e_out * masks + edges_t * (1 - masks)
        i_out = inpaint_g(torch.cat([images * (1 - masks) + masks, e_out], 1))
        merged = i_out * masks + images * (1 - masks)
    return np.clip(np.rint(merged[0].numpy().transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def write_pair(dir_img: Path, dir_mask: Path, name: str, rgb: np.ndarray, hole: np.ndarray) -> None:
    dir_img.mkdir(parents=True, exist_ok=True)
    dir_mask.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(dir_img / f"{name}.png")
    Image.fromarray((hole * 255).astype(np.uint8)).save(dir_mask / f"{name}.png")


def test_import_export_run_matches_official_procedure(tmp_path: Path) -> None:
    folder = tmp_path / "official"
    write_official_folder(folder, sigma=2.5, seed=3)
    weights = tmp_path / "w.safetensors"
    assert runner.invoke(app, ["weights", "import", "--edgeconnect", str(folder), "-o", str(weights)]).exit_code == 0
    for i, name in enumerate(("astronaut", "coffee", "chelsea")):
        rgb = photo(name, 256)
        write_pair(tmp_path / "in", tmp_path / "masks", name, rgb, hole_mask(256, 256, seed=i))
    result = runner.invoke(
        app,
        [
            "run",
            "-i",
            str(tmp_path / "in"),
            "-m",
            str(tmp_path / "masks"),
            "-o",
            str(tmp_path / "out"),
            "--weights",
            str(weights),
        ],
        env={"EDGEINPAINT_CACHE": str(tmp_path / "cache")},
    )
    assert result.exit_code == 0, result.output
    for i, name in enumerate(("astronaut", "coffee", "chelsea")):
        rgb = photo(name, 256)
        hole = hole_mask(256, 256, seed=i)
        ours = np.asarray(Image.open(tmp_path / "out" / f"{name}.png"))
        ref = official_procedure(folder, rgb, hole)
        assert psnr(ours, ref) >= 45.0, name
        assert np.array_equal(ours[~hole], rgb[~hole])  # known pixels are byte-identical


def test_manifest_contents(tiny_artifacts: Path, tiny_weights: Path) -> None:
    manifest = json.loads((tiny_artifacts / "manifest.json").read_text())
    assert manifest["weights"]["sha256"] and manifest["weights"]["canny"]["sigma"] == 1.5
    roles = {f["role"]: f for f in manifest["files"]}
    assert {"edge_generator", "inpaint_generator"} <= set(roles)
    edge = roles["edge_generator"]
    assert edge["opset"] == 17 and edge["precision"] == "fp32"
    assert [i["name"] for i in edge["inputs"]] == ["gray", "edges", "mask"]
    assert edge["accuracy"]["max_abs_vs_torch"] < 1e-3


def test_onnx_graphs_are_dynamic_and_match_torch(tiny_artifacts: Path, tiny_weights: Path) -> None:
    import onnx
    import onnxruntime as ort

    from edgeinpaint.weights.format import load_weights

    weights = load_weights(tiny_weights)
    model = onnx.load(str(tiny_artifacts / "inpaint_generator.fp32.onnx"))
    onnx.checker.check_model(model)
    dims = [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["N", "", "H", "W"]
    session = ort.InferenceSession(str(tiny_artifacts / "inpaint_generator.fp32.onnx"))
    rng = np.random.default_rng(0)
    for n, h, w in ((1, 12, 12), (3, 36, 100)):
        image = rng.random((n, 3, h, w), dtype=np.float32)
        edges = (rng.random((n, 1, h, w)) > 0.9).astype(np.float32)
        mask = (rng.random((n, 1, h, w)) > 0.6).astype(np.float32)
        got = session.run(None, {"image": image, "edges": edges, "mask": mask})[0]
        with torch.no_grad():
            ref = (
                weights.build("inpaint_generator").predict(*(torch.from_numpy(a) for a in (image, edges, mask))).numpy()
            )
        assert np.abs(got - ref).max() < 1e-4


def test_reexport_is_incremental(tiny_artifacts: Path, tiny_weights: Path) -> None:
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    before = {p.name: p.stat().st_mtime_ns for p in tiny_artifacts.glob("*.onnx")}
    export_artifacts(ExportConfig(weights=tiny_weights, output=tiny_artifacts))
    after = {p.name: p.stat().st_mtime_ns for p in tiny_artifacts.glob("*.onnx")}
    assert before == after


def test_tampered_artifact_is_refused(tiny_artifacts: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "art"
    shutil.copytree(tiny_artifacts, copy)
    path = copy / "edge_generator.fp32.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256"):
        open_recipe(ModelSource(artifacts=copy))
    assert read_manifest(copy).find("edge_generator") is not None


def test_run_bad_inputs_complete_the_good_files(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    rgb = photo("astronaut", 64)
    hole = hole_mask(64, 64)
    write_pair(images, masks, "good", rgb, hole)
    write_pair(images / "sub", masks / "sub", "nested", photo("coffee", 64), hole)
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (images / "empty.jpg").write_bytes(b"")
    Image.fromarray(rgb).save(images / "nomask.png")
    Image.fromarray(rgb).save(images / "wrongsize.png")
    Image.fromarray(np.zeros((32, 48), np.uint8)).save(masks / "wrongsize.png")
    Image.fromarray(rgb[:8, :8]).save(images / "tiny.png")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(masks / "tiny.png")
    for name in ("corrupt", "empty"):
        Image.fromarray((hole * 255).astype(np.uint8)).save(masks / f"{name}.png")
    result = runner.invoke(
        app, ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts)]
    )
    assert result.exit_code == 1
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["good.png", "sub/nested.png", "wrongsize.png"]  # a mask of another size is resized
    text = " ".join(result.output.split())
    assert "done 3, skipped 0, failed 4" in text and "resized with nearest neighbour" in text
    for fragment in (
        "corrupt.png: cannot decode",
        "empty.jpg: empty file",
        "no mask with stem 'nomask'",
        "expected both sides >= 12",
    ):
        assert fragment in text
    assert "Traceback" not in result.output
    # no temp files left anywhere
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_single_mask_for_all_and_formats(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, out = tmp_path / "in", tmp_path / "out"
    images.mkdir()
    rgb = photo("chelsea", 64)
    Image.fromarray(rgb).save(images / "a.jpg", quality=95)
    Image.fromarray(rgb).save(images / "a.png")
    Image.fromarray(np.dstack([rgb, np.full((64, 64), 200, np.uint8)])).save(images / "rgba.png")
    Image.fromarray(rgb[..., 0]).save(images / "gray.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(images / "deep.png")
    mask = tmp_path / "mask.png"
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(mask)
    result = runner.invoke(
        app, ["run", "-i", str(images), "-m", str(mask), "-o", str(out), "--artifacts", str(tiny_artifacts)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.png", "deep.png", "gray.png", "rgba.png"]
    assert Image.open(out / "a.jpg").format == "JPEG"


def test_missing_inputs_are_one_line_errors(tiny_artifacts: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "-i", str(tmp_path / "none"), "-m", str(tmp_path), "--artifacts", str(tiny_artifacts)]
    )
    assert result.exit_code == 1 and "input not found" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["run", "-i", str(tmp_path), "-m", str(tmp_path), "--artifacts", str(tmp_path / "x")])
    assert result.exit_code == 1


def test_torch_backend_matches_onnxruntime(tiny_artifacts: Path, tiny_weights: Path) -> None:

    rgb = photo("astronaut", 64)
    hole = hole_mask(64, 64)
    a = open_recipe(ModelSource(artifacts=tiny_artifacts))(rgb, hole)
    b = open_recipe(ModelSource(weights=str(tiny_weights)), EngineOptions(backend=Backend.TORCH))(rgb, hole)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_cli_help_runs_without_torch_import() -> None:
    import subprocess
    import sys

    code = "import sys, edgeinpaint.cli; assert 'torch' not in sys.modules, 'torch imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_runtime_only_install_runs_without_torch(tiny_artifacts: Path, tmp_path: Path) -> None:
    """A runtime-only install (no torch) runs exported artifacts, in-process and multi-process."""
    import subprocess
    import sys

    script = Path(__file__).with_name("without_torch.py")  # `import torch` fails in that process
    images, masks = tmp_path / "in", tmp_path / "masks"
    write_pair(images, masks, "a", photo("coffee", 64), hole_mask(64, 64))
    for extra in (["--in-process"], ["--pipeline", "--workers", "1"]):
        out = tmp_path / f"out{len(extra)}"
        args = ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts), *extra]
        result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (out / "a.png").is_file()


def test_bundled_demo_weights_run_the_examples(tmp_path: Path) -> None:
    """What `make demo` does: the bundled weights inpaint examples/ (offline), known pixels kept."""
    from edgeinpaint.weights.format import load_weights
    from edgeinpaint.weights.registry import resolve_weights

    root = Path(__file__).resolve().parents[2] / "examples"
    weights = load_weights(resolve_weights("demo"))
    assert weights.architecture.base_channels == 16 and weights.blend in ("paste", "poisson")
    env = {"EDGEINPAINT_CACHE": str(tmp_path / "cache")}
    result = CliRunner().invoke(
        app,
        ["run", "--weights", "demo", "-i", str(root / "images"), "-m", str(root / "masks"), "-o", str(tmp_path / "o")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    for image in sorted((root / "images").iterdir()):
        src = np.asarray(Image.open(image).convert("RGB"))
        out = np.asarray(Image.open(tmp_path / "o" / image.name).convert("RGB"))
        hole = np.asarray(Image.open(root / "masks" / image.name).convert("L")) > 127
        assert np.array_equal(out[~hole], src[~hole]) and not np.array_equal(out[hole], src[hole])
