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
from edgeinpaint.export.artifacts import ExportConfig, export_artifacts
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_inpainter
from tests.conftest import hole_mask, photo

runner = CliRunner()


@pytest.fixture(scope="module")
def calib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("calib")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        Image.fromarray(photo(name, 64)).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path, calib: Path) -> Path:
    from edgeinpaint.export import accuracy

    out = tmp_path_factory.mktemp("ladder")
    # The tiny test networks have large random weights (no training), which INT8 handles worse
    # than trained ones (~27 dB here): the floor policy is tested on its own below.
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(accuracy.FLOORS_DB, "int8", 20.0)
        for precision in ("fp16", "int8"):
            config = ExportConfig(
                weights=tiny_weights, output=out, precision=specs.Precision(precision), calibration=calib
            )
            export_artifacts(config)
    return out


def manifest_entries(out: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {f["file"]: f for f in json.loads((out / "manifest.json").read_text())["files"]}


def test_variants_are_recorded_with_accuracy(ladder: Path) -> None:
    files = manifest_entries(ladder)
    for precision, floor in (("fp16", 40.0), ("int8", 20.0)):
        for role in ("edge_generator", "inpaint_generator"):
            entry = files[f"{role}.{precision}.onnx"]
            assert entry["precision"] == precision and entry["accuracy"]["psnr_vs_fp32"] >= floor
            assert "inpaint_generator_max_abs_vs_fp32" in entry["accuracy"]
        assert files[f"edgeinpaint.{precision}.onnx"]["accuracy"]["psnr_vs_three_stage"] >= 50
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
    a = open_inpainter(ModelSource(artifacts=ladder), EngineOptions(precision=Precision.FP32))(rgb, hole)
    b = open_inpainter(ModelSource(artifacts=ladder), EngineOptions(precision=Precision.FP16))(rgb, hole)
    mse = np.mean((a.astype(float) - b) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40


@pytest.mark.parametrize("uint8_io", [True, False])
def test_fused_model_reproduces_three_stage_run(tiny_artifacts: Path, tmp_path: Path, uint8_io: bool) -> None:
    from edgeinpaint.core.params import CannyParams
    from edgeinpaint.export.fused import build_fused_model

    manifest = json.loads((tiny_artifacts / "manifest.json").read_text())
    model = build_fused_model(
        tiny_artifacts / "edge_generator.fp32.onnx",
        tiny_artifacts / "inpaint_generator.fp32.onnx",
        CannyParams(**manifest["weights"]["canny"]),
        uint8_io=uint8_io,
    )
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inpainter = open_inpainter(ModelSource(artifacts=tiny_artifacts))
    import cv2

    for h, w in ((64, 64), (45, 71)):  # odd sizes exercise the in-graph padding and crop
        rgb = cv2.resize(photo("astronaut", None), (w, h), interpolation=cv2.INTER_AREA)
        hole = hole_mask(h, w, seed=h)
        ref = inpainter(rgb, hole)
        if uint8_io:
            out = session.run(None, {"image": rgb[None], "mask": (hole * 255).astype(np.uint8)[None, ..., None]})[0][0]
        else:
            feeds = {
                "image": (rgb / 255.0).astype(np.float32).transpose(2, 0, 1)[None],
                "mask": hole[None, None].astype(np.float32),
            }
            out = np.clip(np.rint(session.run(None, feeds)[0][0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
        mse = np.mean((out.astype(float) - ref) ** 2)
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 50
        assert np.array_equal(out[~hole], rgb[~hole])


def test_int8_needs_calibration(tiny_weights: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--calibration"):
        export_artifacts(ExportConfig(weights=tiny_weights, output=tmp_path, precision=specs.Precision.INT8))


def test_accuracy_floor_names_the_stage(tiny_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeinpaint.export import accuracy

    monkeypatch.setitem(accuracy.FLOORS_DB, "fp16", 150.0)
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
