"""FP16 / INT8 variants, the fused model, calibration caching, accuracy floors (tiny models, CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core import specs
from edgeinpaint.core.errors import ExportError
from edgeinpaint.core.specs import Precision
from edgeinpaint.export.artifacts import export_artifacts
from edgeinpaint.export.config import ExportConfig
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
from tests.conftest import hole_mask, photo

runner = CliRunner()


def manifest_entries(out: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {f["file"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}


def test_recorded_accuracy_is_what_an_independent_run_measures(ladder: Path, calib: Path) -> None:
    """The manifest's figures are re-measured here, outside the exporter, on the same bundled photos."""
    from edgeinpaint.calibration.sources import CalibrationSource
    from edgeinpaint.canny.stage import reference_canny
    from edgeinpaint.core.params import CannyParams
    from edgeinpaint.export.accuracy import psnr8

    files = manifest_entries(ladder)
    weights = json.loads((ladder / "manifest.json").read_text())["weights"]
    canny = reference_canny(CannyParams(**weights["canny"]))
    samples = list(CalibrationSource(calib, None, 32).samples(canny))
    for precision in ("fp16", "int8"):
        ref = open_recipe(ModelSource(artifacts=ladder), EngineOptions(precision=Precision.FP32))
        var = open_recipe(ModelSource(artifacts=ladder), EngineOptions(precision=Precision(precision)))
        measured = float(np.mean([psnr8(ref.batch([s])[0], var.batch([s])[0]) for s in samples]))
        recorded = files[f"inpaint_generator.{precision}.onnx"]["accuracy"]["psnr_vs_fp32"]
        assert abs(measured - recorded) < 0.05, (precision, measured, recorded)
        assert files[f"edgeinpaint.{precision}.onnx"]["accuracy"]["max_levels_vs_three_stage"] <= 1
    assert files["edge_generator.fp16.onnx"]["options"]["keep_fp32"] == ["InstanceNormalization"]
    assert files["inpaint_generator.int8.onnx"]["accuracy"]["tool"].startswith("onnxruntime.quantization")
    assert list((ladder / "calibration").glob("*.json"))


def test_int8_graph_is_qdq_with_zero_points(ladder: Path) -> None:
    import onnx

    model = onnx.load(str(ladder / "inpaint_generator.int8.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all((zp == 0).all() for zp in zero_points)


def test_fp16_runs_close_to_fp32(ladder: Path) -> None:
    rgb = photo("coffee", 64)
    hole = hole_mask(64, 64)
    a = open_recipe(ModelSource(artifacts=ladder), EngineOptions(precision=Precision.FP32))(rgb, hole)
    b = open_recipe(ModelSource(artifacts=ladder), EngineOptions(precision=Precision.FP16))(rgb, hole)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40


@pytest.mark.parametrize("blend", ["paste", "poisson"])
@pytest.mark.parametrize("uint8_io", [True, False])
def test_fused_model_gives_runs_picture(tiny_artifacts: Path, uint8_io: bool, blend: str) -> None:
    """Fused model (+ finish_fused for the weights' blend) vs in-process `run`: within 1 level, photos."""
    import cv2

    from edgeinpaint.core.params import Blend, CannyParams
    from edgeinpaint.core.stages import preprocess
    from edgeinpaint.export.fused import build_fused_model
    from edgeinpaint.export.ladder import fused_picture
    from edgeinpaint.runtime.inpainter import PictureOptions

    manifest = json.loads((tiny_artifacts / "manifest.json").read_text())
    model = build_fused_model(
        tiny_artifacts / "edge_generator.fp32.onnx",
        tiny_artifacts / "inpaint_generator.fp32.onnx",
        CannyParams(**manifest["weights"]["canny"]),
        uint8_io=uint8_io,
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inpainter = open_recipe(ModelSource(artifacts=tiny_artifacts), picture=PictureOptions(blend=Blend(blend)))
    for name, (h, w) in (("astronaut", (64, 64)), ("coffee", (45, 71))):  # odd sizes: in-graph padding and crop
        rgb = cv2.resize(photo(name, None), (w, h), interpolation=cv2.INTER_AREA)
        hole = hole_mask(h, w, seed=h)
        ref = inpainter(rgb, hole)
        out = fused_picture(session, preprocess(rgb, hole, inpainter.canny), uint8_io, Blend(blend))
        assert int(np.abs(out.astype(int) - ref).max()) <= 1, (name, blend)
        assert np.array_equal(out[~hole], rgb[~hole])


def test_int8_needs_calibration(tiny_weights: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--calibration"):
        export_artifacts(ExportConfig(weights=tiny_weights, output=tmp_path, precision=specs.Precision.INT8))


def test_accuracy_floor_names_the_stage(tiny_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeinpaint.core import tolerances

    monkeypatch.setitem(tolerances.FLOORS_DB, "fp16", 150.0)
    with pytest.raises(ExportError, match=r"below its accuracy floor.*the (edge|inpaint)_generator loses the most"):
        export_artifacts(ExportConfig(weights=tiny_weights, output=tmp_path, precision=specs.Precision.FP16))
    assert not list(tmp_path.glob("*.fp16.onnx")) and not list(tmp_path.glob(".*tmp"))


def test_reexport_reuses_variants_and_calibration(
    ladder: Path, tiny_weights: Path, calib: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ladder, copy)
    before = {p.name: p.stat().st_mtime_ns for p in copy.glob("*.onnx")}
    messages: list[str] = []
    export_artifacts(
        ExportConfig(weights=tiny_weights, output=copy, precision=specs.Precision.INT8, calibration=calib),
        progress=messages.append,
    )
    assert {p.name: p.stat().st_mtime_ns for p in copy.glob("*.onnx")} == before
    assert any("up to date" in m for m in messages)


def test_calibrate_command_caches_by_data_hash(tiny_weights: Path, calib: Path, tmp_path: Path) -> None:
    out = tmp_path / "art"
    args = ["calibrate", "--weights", str(tiny_weights), "-o", str(out), "--calibration", str(calib)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    caches = sorted((out / "calibration").glob("*.json"))
    assert len(caches) == 2 and not list(out.glob("*.int8.onnx"))
    result = runner.invoke(app, args)
    assert "up to date" in result.output
    # changing the data changes the key
    extra = tmp_path / "calib2"
    shutil.copytree(calib, extra)
    Image.fromarray(photo("rocket", 64)[::-1].copy()).save(extra / "flipped.png")
    assert runner.invoke(app, [*args[:-1], str(extra)]).exit_code == 0
    assert len(list((out / "calibration").glob("*.json"))) == 4


def test_engine_flag_without_tensorrt_is_a_clear_error(tiny_weights: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--weights", str(tiny_weights), "-o", str(tmp_path), "--engine"])
    assert result.exit_code == 1 and "--no-engine" in result.output and "Traceback" not in result.output
