"""At 80 columns (COLUMNS=80) `run`, `export`, `bench` and `doctor --selftest` fit, and no word is broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import hole_mask, photo

runner = CliRunner()
NARROW = {"COLUMNS": "80"}


def fits(output: str, whole: list[str]) -> None:
    """Every line fits 80 columns (a line may overflow only with a single unbreakable token, e.g. a long
    path), and every word in ``whole`` appears unbroken."""
    for line in output.splitlines():
        assert len(line) <= 80 or len(line.split()) <= 2, line
    for word in whole:
        assert word in output, word


def test_run_and_export_fit_80_columns(tiny_weights: Path, tmp_path: Path) -> None:
    art = tmp_path / "a"
    result = runner.invoke(app, ["export", "--weights", str(tiny_weights), "-o", str(art)], env=NARROW)
    assert result.exit_code == 0, result.output
    fits(result.output, ["edge_generator.fp32.onnx", "inpaint_generator.fp32.onnx", "edgeinpaint.fp32.onnx"])
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    Image.fromarray(photo("coffee", 48)).save(tmp_path / "i" / "c.png")
    Image.fromarray((hole_mask(48, 48) * 255).astype(np.uint8)).save(tmp_path / "m" / "c.png")
    argv = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "m"), "-o", str(tmp_path / "o")]
    result = runner.invoke(app, [*argv, "--artifacts", str(art)], env=NARROW)
    assert result.exit_code == 0, result.output
    fits(result.output, ["auto", "picked", "in-process"])


def test_bench_fits_80_columns(tiny_artifacts: Path, tiny_weights: Path) -> None:
    argv = ["bench", "--artifacts", str(tiny_artifacts), "--weights", str(tiny_weights), "--size", "32"]
    result = runner.invoke(app, [*argv, "--iterations", "3", "--precision", "fp32,int8"], env=NARROW)
    assert result.exit_code == 0, result.output
    fits(result.output, ["onnxruntime", "torch", "not measured:"])
    assert "range" in result.output  # the spread across the alternated rounds


def test_selftest_fits_80_columns(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--selftest", "--keep", str(tmp_path / "art")], env=NARROW)
    assert result.exit_code == 0, result.output
    fits(result.output, ["onnxruntime", "openvino"])
