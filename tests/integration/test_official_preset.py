"""``--preset official`` against the official EdgeConnect test procedure, written from its description.

The reference below is our own code, written from the procedure of knazeri/edge-connect's ``test.py
--model 3`` as its source describes it (dataset.py ``load_item`` / ``load_mask`` in test mode,
edge_connect.py ``test`` and ``postprocess``), not a copy of it:

- image ``imread``; gray ``rgb2gray(img)`` (float64); mask ``rgb2gray(mask)``, then ``(mask > 0) * 255``;
- ``canny(img_gray, sigma=SIGMA, mask=(1 - mask / 255).astype(bool))``;
- tensors: image / 255, gray and edges as float32, mask / 255;
- ``edges = edge_model(images_gray, edges, masks)`` (inputs ``[gray·(1−m)+m, edges·(1−m), m]``), then
  ``outputs = inpaint_model(images, edges, masks)`` (inputs ``[images·(1−m)+m, edges]``): raw edges;
- ``outputs * masks + images * (1 - masks)``, then ``img * 255`` ... ``.int()``: truncation.

It runs the official-format checkpoint's own networks (the spectral-norm edge generator as saved,
unfolded), and is compared with ``edgeinpaint run --preset official`` on soft (blurred) colour masks,
where the official ``> 0`` rule and edgeinpaint's default ``> 127`` differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import TINY, hole_mask, photo, write_official_folder

runner = CliRunner()
NAMES = ("astronaut", "coffee", "chelsea")
SIZE = (128, 96)  # (H, W): multiples of 4, as test.py needs


def official_test_script(folder: Path, image_path: Path, mask_path: Path) -> np.ndarray:
    """The official test procedure (module docstring) on one image/mask file pair; (H, W, 3) uint8."""
    import yaml
    from skimage.color import gray2rgb, rgb2gray
    from skimage.feature import canny

    from edgeinpaint.models import Architecture, EdgeGenerator, InpaintGenerator

    sigma = yaml.safe_load((folder / "config.yml").read_text())["SIGMA"]
    img = np.asarray(Image.open(image_path))
    if img.ndim == 2:
        img = gray2rgb(img)
    img_gray = rgb2gray(img)
    mask = rgb2gray(np.asarray(Image.open(mask_path)))
    mask = (mask > 0).astype(np.uint8) * 255
    edge = canny(img_gray, sigma=sigma, mask=(1 - mask / 255).astype(bool))

    arch = Architecture(**TINY)
    edge_g, inpaint_g = EdgeGenerator(arch, use_spectral_norm=True), InpaintGenerator(arch)
    strip = lambda sd: {k.removeprefix("module."): v for k, v in sd.items()}  # noqa: E731
    edge_g.load_state_dict(strip(torch.load(folder / "EdgeModel_gen.pth", weights_only=True)["generator"]))
    inpaint_g.load_state_dict(strip(torch.load(folder / "InpaintingModel_gen.pth", weights_only=True)["generator"]))
    edge_g.eval()
    inpaint_g.eval()

    def tensor(a: np.ndarray) -> torch.Tensor:  # torchvision's to_tensor: HWC -> CHW float32
        a = a[..., None] if a.ndim == 2 else a
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))[None]

    images, images_gray = tensor(img / 255.0), tensor(img_gray)
    edges, masks = tensor(edge.astype(np.float32)), tensor(mask / 255.0)
    with torch.no_grad():
        edge_in = torch.cat([images_gray * (1 - masks) + masks, edges * (1 - masks), masks], 1)
        edges = edge_g(edge_in)  # raw edges, not composited (test, unlike train/eval/sample)
        outputs = inpaint_g(torch.cat([images * (1 - masks) + masks, edges], 1))
        merged = outputs * masks + images * (1 - masks)
    return (merged * 255.0).permute(0, 2, 3, 1).int()[0].numpy().astype(np.uint8)


def soft_mask(h: int, w: int, seed: int) -> np.ndarray:
    """A blurred colour (RGB) mask: values from 0 to 255 with soft borders, as masks from paint tools."""
    import cv2

    hard = hole_mask(h, w, seed=seed).astype(np.float32) * 255
    soft = cv2.GaussianBlur(hard, (0, 0), 3)
    return np.repeat(np.clip(soft, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def official_job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("official_preset")
    folder = root / "official"
    write_official_folder(folder, sigma=2.0, seed=5)
    weights = root / "w.safetensors"
    assert runner.invoke(app, ["weights", "import", "--edgeconnect", str(folder), "-o", str(weights)]).exit_code == 0
    (root / "in").mkdir()
    (root / "masks").mkdir()
    for i, name in enumerate(NAMES):
        rgb = photo(name, None)
        import cv2

        rgb = cv2.resize(rgb, (SIZE[1], SIZE[0]), interpolation=cv2.INTER_AREA)
        Image.fromarray(rgb).save(root / "in" / f"{name}.png")
        Image.fromarray(soft_mask(*SIZE, seed=i)).save(root / "masks" / f"{name}.png")
    return {"root": root, "folder": folder, "weights": weights}


def _run(job: dict[str, Path], out: str, *extra: str) -> Path:
    root = job["root"]
    argv = ["run", "-i", str(root / "in"), "-m", str(root / "masks"), "-o", str(root / out)]
    argv += ["--weights", str(job["weights"]), "--preset", "official", "--report", str(root / f"{out}.json"), *extra]
    result = runner.invoke(app, argv, env={"EDGEINPAINT_CACHE": str(root / "cache")})
    assert result.exit_code == 0, result.output
    return root / out


@pytest.mark.parametrize(
    ("extra", "identical"),
    [
        (("--backend", "torch"), 0.99),
        (("--backend", "onnxruntime"), 0.95),
        (("--backend", "onnxruntime", "--fused"), 0.95),
    ],
    ids=["torch", "onnxruntime", "fused"],
)
def test_preset_official_reproduces_the_official_test_script(
    official_job: dict[str, Path], extra: tuple[str, ...], identical: float
) -> None:
    out = _run(official_job, "out-" + "-".join(e.lstrip("-") for e in extra), *extra)
    root = official_job["root"]
    for name in NAMES:
        ref = official_test_script(official_job["folder"], root / "in" / f"{name}.png", root / "masks" / f"{name}.png")
        ours = np.asarray(Image.open(out / f"{name}.png"))
        diff = np.abs(ours.astype(np.int16) - ref)
        assert diff.max() <= 1, (name, int(diff.max()))
        assert (diff == 0).mean() >= identical, (name, float((diff == 0).mean()))
    report = json.loads((root / f"{out.name}.json").read_text())
    assert report["settings"]["preset"] == "official"
    assert report["settings"]["picture"] == {
        "mask_threshold": 0, "canny": "exact", "edge_source": "raw", "blend": "paste", "to_8bit": "truncate"
    }  # fmt: skip


def test_default_preset_differs_from_the_official_script(official_job: dict[str, Path]) -> None:
    """The paper's recipe (composited edges, mask > 127, rounding) is not test.py's: the preset matters."""
    root = official_job["root"]
    argv = ["run", "-i", str(root / "in"), "-m", str(root / "masks"), "-o", str(root / "paper")]
    argv += ["--weights", str(official_job["weights"]), "--backend", "torch"]
    assert runner.invoke(app, argv, env={"EDGEINPAINT_CACHE": str(root / "cache")}).exit_code == 0
    name = NAMES[0]
    ref = official_test_script(official_job["folder"], root / "in" / f"{name}.png", root / "masks" / f"{name}.png")
    ours = np.asarray(Image.open(root / "paper" / f"{name}.png"))
    assert np.abs(ours.astype(np.int16) - ref).max() > 1


def test_explicit_option_overrides_the_preset(official_job: dict[str, Path]) -> None:
    out = _run(official_job, "rounded", "--backend", "torch", "--to-8bit", "round")
    report = json.loads((official_job["root"] / "rounded.json").read_text())
    assert report["settings"]["picture"]["to_8bit"] == "round"
    assert report["settings"]["picture"]["edge_source"] == "raw"
    assert (out / f"{NAMES[0]}.png").is_file()


def test_fused_refuses_a_model_exported_with_other_edges(official_job: dict[str, Path], tmp_path: Path) -> None:
    """A fused model bakes its edge source and rounding: asking for others is one line, never silent."""
    root = official_job["root"]
    artifacts = tmp_path / "artifacts"
    export = ["export", "--weights", str(official_job["weights"]), "-o", str(artifacts)]
    assert runner.invoke(app, export).exit_code == 0
    argv = ["run", "-i", str(root / "in"), "-m", str(root / "masks"), "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*argv, "--artifacts", str(artifacts), "--fused", "--edge-source", "raw"])
    assert result.exit_code == 1
    assert "exported with edges composite" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_export_preset_official_bakes_the_recipe(official_job: dict[str, Path], tmp_path: Path) -> None:
    from edgeinpaint.core.manifest import read_manifest

    artifacts = tmp_path / "artifacts"
    argv = ["export", "--weights", str(official_job["weights"]), "-o", str(artifacts), "--preset", "official"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    fused = read_manifest(artifacts).require("fused", "fp32")
    assert fused.options["edge_source"] == "raw" and fused.options["to_8bit"] == "truncate"
    assert fused.options["mask_threshold"] == 0
    assert fused.accuracy["max_levels_vs_three_stage"] <= 1
