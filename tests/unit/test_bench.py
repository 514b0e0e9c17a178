"""Bench statistics, report formats and --check logic (tiny models, seconds)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeinpaint.benchmarks.report import write_csv, write_json, write_plot
from edgeinpaint.benchmarks.roofline import graph_gmac
from edgeinpaint.benchmarks.suites import check
from edgeinpaint.benchmarks.timing import Stats, measure
from edgeinpaint.cli import app
from edgeinpaint.core.errors import EdgeInpaintError


def test_stats_percentiles_and_throughput() -> None:
    seconds = [0.010] * 98 + [0.020, 0.110]
    s = Stats.from_samples(seconds, batch=4)
    assert s.median_ms == pytest.approx(10.0)
    assert s.p90_ms == pytest.approx(10.0)
    assert s.p99_ms == pytest.approx(20.9, rel=1e-3)  # numpy linear interpolation between 20 and 110 ms
    assert s.images_per_s == pytest.approx(4 * 100 / sum(seconds))
    assert s.calls == 100


def test_measure_respects_iterations_and_sync() -> None:
    calls, syncs = [], []
    stats = measure(lambda: calls.append(1), batch=1, warmup=2, iterations=5, sync=lambda: syncs.append(1))
    assert stats.calls == 5 and len(calls) == 7 and len(syncs) == 7


ROWS = [
    {
        "backend": "onnxruntime",
        "precision": "fp32",
        "batch": 1,
        "size": 64,
        "stage": "model",
        "status": "ok",
        "images_per_s": 50.0,
        "p99_ms": 30.0,
        "psnr_vs_fp32": 100.0,
    },
    {
        "backend": "onnxruntime",
        "precision": "int8",
        "batch": 1,
        "size": 64,
        "stage": "model",
        "status": "ok",
        "images_per_s": 80.0,
        "p99_ms": 20.0,
        "psnr_vs_fp32": 31.0,
    },
    {
        "backend": "onnxruntime",
        "precision": "int8",
        "batch": 1,
        "size": 64,
        "stage": "canny",
        "status": "ok",
        "images_per_s": 1.0,
    },
    {
        "backend": "tensorrt",
        "precision": "fp16",
        "batch": 1,
        "size": 64,
        "stage": "model",
        "status": "unavailable",
        "reason": "no GPU",
    },
]


def test_check_logic() -> None:
    assert check(ROWS, ["throughput>=40", "p99<=30", "psnr>30"]) == []
    failures = check(ROWS, ["throughput>=60"])
    assert len(failures) == 1 and "fp32" in failures[0] and "50.0" in failures[0]
    assert check(ROWS, ["psnr>=40"])[0].startswith("onnxruntime int8")
    with pytest.raises(EdgeInpaintError, match="METRIC OP NUMBER"):
        check(ROWS, ["speed=3"])


def test_report_formats(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", ROWS, {"cpu": "test"})
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["environment"]["cpu"] == "test" and data["rows"][3]["reason"] == "no GPU"
    write_csv(tmp_path / "r.csv", ROWS)
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and rows[1]["precision"] == "int8" and "reason" in rows[0]
    pytest.importorskip("matplotlib")
    write_plot(tmp_path / "r.png", ROWS)
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gmac_counts_from_the_graph(tiny_artifacts: Path) -> None:
    # tiny inpaint generator (c=8, 1 block) at 64x64, counted by hand from the layer table
    c, s = 8, 64
    convs = [
        s * s * c * 4 * 49,  # 7x7 in
        (s // 2) ** 2 * 2 * c * c * 16,
        (s // 4) ** 2 * 4 * c * 2 * c * 16,
        2 * (s // 4) ** 2 * 4 * c * 4 * c * 9,  # one resblock
        (s // 4) ** 2 * 4 * c * 2 * c * 16,  # transposed convs count input elements
        (s // 2) ** 2 * 2 * c * c * 16,
        s * s * 3 * c * 49,
    ]
    assert graph_gmac(tiny_artifacts / "inpaint_generator.fp32.onnx", s, s) == pytest.approx(sum(convs) / 1e9)


def test_bench_cli_end_to_end(tiny_artifacts: Path, tiny_weights: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--artifacts",
            str(tiny_artifacts),
            "--weights",
            str(tiny_weights),
            "--precision",
            "fp32,int8",
            "--batch",
            "1,2",
            "--size",
            "32",
            "--iterations",
            "3",
            "--json",
            str(tmp_path / "b.json"),
            "--check",
            "throughput>=0.001",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    measured = [r for r in rows if r["status"] == "ok"]
    assert {r["backend"] for r in measured} == {"torch", "onnxruntime"}
    assert all(r["calls"] == 3 and r["gmac_per_image"] > 0 and r["peak_share"] > 0 for r in measured)
    assert all(np.isfinite(r["speedup_vs_torch"]) for r in measured)
    assert next(r["reason"] for r in rows if r["precision"] == "int8").startswith("no int8 artifacts")
    failing = CliRunner().invoke(
        app,
        [
            "bench",
            "--artifacts",
            str(tiny_artifacts),
            "--iterations",
            "2",
            "--size",
            "32",
            "--baseline",
            "none",
            "--check",
            "throughput>=1e9",
        ],
    )
    assert failing.exit_code == 1 and "check failed" in failing.output


@pytest.mark.parametrize("which", ["paste", "poisson"])
def test_fp32_reference_row_is_identical_to_the_reference(
    tiny_artifacts: Path, poisson_artifacts: Path, tmp_path: Path, which: str
) -> None:
    """The FP32 row composites exactly as the reference does (it once compared paste with Poisson: 22 dB)."""
    artifacts = poisson_artifacts if which == "poisson" else tiny_artifacts
    args = ["bench", "--artifacts", str(artifacts), "--iterations", "1", "--size", "64", "--baseline", "none"]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads((tmp_path / "b.json").read_text())["rows"] if r["status"] == "ok"]
    assert row["precision"] == "fp32" and row["psnr_vs_fp32"] >= 60


@pytest.mark.parametrize(
    ("option", "said"),
    [(["--size", "250"], "--size 250"), (["--batch", "1,x"], "bad list option"), (["--check", "foo>1"], "--check")],
)
def test_bad_options_fail_before_any_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: list[str], said: str
) -> None:
    """A bad list or check is refused at once, not after exporting the demo weights into an empty cache."""
    monkeypatch.setenv("EDGEINPAINT_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["bench", *option])
    assert result.exit_code == 1 and said in result.output
    assert not (tmp_path / "cache").exists()
