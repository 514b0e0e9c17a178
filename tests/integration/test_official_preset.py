"""``--preset official`` against the official EdgeConnect test procedure (benchmarks/official.py has the
reference, written from the procedure test.py's source describes), on soft colour masks, where the
official ``> 0`` mask rule and edgeinpaint's default ``> 127`` differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.benchmarks.official import official_networks, official_test_script, soft_mask
from edgeinpaint.cli import app
from edgeinpaint.core.architecture import Architecture
from tests.conftest import TINY, photo, write_official_folder

runner = CliRunner()
NAMES = ("astronaut", "coffee", "chelsea")
SIZE = (128, 96)  # (H, W): multiples of 4, as test.py needs


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
    networks = official_networks(official_job["folder"], Architecture(**TINY))
    for name in NAMES:
        ref = official_test_script(*networks, root / "in" / f"{name}.png", root / "masks" / f"{name}.png")
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
    networks = official_networks(official_job["folder"], Architecture(**TINY))
    ref = official_test_script(*networks, root / "in" / f"{name}.png", root / "masks" / f"{name}.png")
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


def test_openvino_refuses_a_fused_model_export_found_off(tiny_artifacts: Path) -> None:
    """Export measures the fused model on OpenVINO against OpenVINO's three engines; above the floor, the
    runtime refuses it there (and `auto` falls through to ONNX Runtime) instead of painting differently."""
    pytest.importorskip("openvino")
    from edgeinpaint.core.errors import DependencyError
    from edgeinpaint.core.manifest import read_manifest
    from edgeinpaint.core.specs import Backend
    from edgeinpaint.runtime.engines import EngineRequest, open_engines

    manifest = read_manifest(tiny_artifacts)
    entry = manifest.require("fused", "fp32")
    assert entry.accuracy["max_levels_vs_three_stage_openvino"] <= 1  # measured at export, on this CPU
    entry.accuracy["max_levels_vs_three_stage_openvino"] = 49
    request = EngineRequest(artifacts=tiny_artifacts, manifest=manifest)
    with pytest.raises(DependencyError, match="up to 49 levels on OpenVINO"):
        open_engines(Backend.OPENVINO, request, fused=True)
    with open_engines(Backend.AUTO, request, fused=True) as opened:
        assert opened.backend is not Backend.OPENVINO and "did not open: openvino" in opened.why


def test_serve_with_the_official_preset_answers_runs_picture(official_job: dict[str, Path], tmp_path: Path) -> None:
    """`serve --preset official` reads the mask with test.py's rule and answers `run --preset official`'s bytes."""
    pytest.importorskip("fastapi")
    import httpx

    from edgeinpaint.core.presets import PRESETS, Preset
    from edgeinpaint.runtime.inpainter import PictureOptions
    from tests.integration.test_serve import serving

    root = official_job["root"]
    artifacts = tmp_path / "artifacts"
    assert (
        runner.invoke(app, ["export", "--weights", str(official_job["weights"]), "-o", str(artifacts)]).exit_code == 0
    )
    out = tmp_path / "out"
    argv = ["run", "-i", str(root / "in"), "-m", str(root / "masks"), "-o", str(out), "--artifacts", str(artifacts)]
    result = runner.invoke(app, [*argv, "--preset", "official", "--backend", "onnxruntime"])
    assert result.exit_code == 0, result.output
    recipe = PRESETS[Preset.OFFICIAL]
    picture = PictureOptions(edge_source=recipe.edge_source, blend=recipe.blend, rounding=recipe.rounding)
    name = NAMES[0]
    with serving(artifacts, picture, recipe.canny, mask_threshold=recipe.mask_threshold) as url:
        files = {
            "image": (f"{name}.png", (root / "in" / f"{name}.png").read_bytes()),
            "mask": (f"{name}.png", (root / "masks" / f"{name}.png").read_bytes()),
        }
        got = httpx.post(f"{url}/v1/inpaint", files=files, timeout=120)
    assert got.status_code == 200 and got.content == (out / f"{name}.png").read_bytes()
