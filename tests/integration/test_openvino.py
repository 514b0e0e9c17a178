"""OpenVINO runs the exported files: FP32 as FP32 (pinned hint), BF16 only on BF16 CPUs, INT8 from the Q/DQ files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edgeinpaint.core.cpu import has_bf16
from edgeinpaint.core.specs import Backend, Precision
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

pytest.importorskip("openvino")


def _samples(inpainter: object) -> list:  # type: ignore[type-arg]
    from edgeinpaint.calibration.sources import photo_samples

    return photo_samples(inpainter.canny, 4, 96, seed=3)  # type: ignore[attr-defined]


def test_fp32_matches_onnxruntime_within_half_a_level(ladder: Path) -> None:
    ort = open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.ONNXRUNTIME))
    ov = open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.OPENVINO))
    samples = _samples(ort)
    for a, b in zip(ort.infer(samples), ov.infer(samples), strict=True):
        assert np.abs(a - b).max() * 255 <= 0.5  # raw outputs, before rounding
    pictures = zip(ort.batch(samples), ov.batch(samples), strict=True)
    assert all(np.abs(a.astype(int) - b).max() <= 1 for a, b in pictures)


def test_int8_and_bf16_pass_their_floors(ladder: Path, calib: Path, tmp_path: Path) -> None:
    from edgeinpaint.core.tolerances import FLOORS_DB
    from edgeinpaint.export.accuracy import psnr8

    ref = open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.ONNXRUNTIME))
    samples = _samples(ref)
    truth = ref.batch(samples)
    precisions = [Precision.INT8] + ([Precision.BF16] if has_bf16() else [])
    for precision in precisions:
        ov = open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.OPENVINO, precision=precision))
        psnr = float(np.mean([psnr8(a, b) for a, b in zip(truth, ov.batch(samples), strict=True)]))
        floor = (
            20.0 if precision is Precision.INT8 else FLOORS_DB["bf16"]
        )  # tiny random nets: INT8 floor as the ladder's
        assert psnr >= floor, (precision, psnr)


def test_bf16_is_refused_where_the_cpu_lacks_it(ladder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeinpaint.core.errors import DependencyError

    monkeypatch.setattr("edgeinpaint.runtime.engines.openvino.has_bf16", lambda: False)
    with pytest.raises(DependencyError, match="no native BF16"):
        open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.OPENVINO, precision=Precision.BF16))
    # auto never changes the precision: no backend runs bf16 here, so it says so
    with pytest.raises(Exception, match="bf16"):
        open_recipe(ModelSource(artifacts=ladder), EngineOptions(backend=Backend.AUTO, precision=Precision.BF16))


@pytest.mark.skipif(not has_bf16(), reason="needs a CPU with native BF16")
def test_export_measures_bf16_and_records_it(tiny_weights: Path, calib: Path, tmp_path: Path) -> None:
    import json

    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    export_artifacts(ExportConfig(weights=tiny_weights, output=tmp_path, precision=Precision.BF16, calibration=calib))
    files = {f["file"]: f for f in json.loads((tmp_path / "manifest.json").read_text())["files"]}
    bf16 = files["inpaint_generator.fp32.onnx"]["accuracy"]["bf16_openvino"]
    assert bf16["psnr_vs_fp32"] >= 40 and bf16["samples"] == 4


def test_compiling_with_the_model_cache_waits_for_the_cache_lock(tiny_artifacts: Path, tmp_path: Path) -> None:
    """OpenVINO's cache is not safe for concurrent writers (a half-written blob was read, 1 in 15 runs of
    three processes), so a compile with a cache holds the cache's lock: here it waits while we hold it."""
    import threading
    import time

    from edgeinpaint.core.atomic import exclusive
    from edgeinpaint.core.openvino import OpenVinoEngine

    model, cache = tiny_artifacts / "edge_generator.fp32.onnx", tmp_path / "cache"
    OpenVinoEngine(model, Precision.FP32, 1, cache).close()  # warm: a cached compile takes well under 1 s
    done: list[float] = []

    def compile_again() -> None:
        OpenVinoEngine(model, Precision.FP32, 1, cache).close()
        done.append(time.monotonic())

    with exclusive(cache):
        thread = threading.Thread(target=compile_again)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the compile did not wait for the cache lock"
        released = time.monotonic()
    thread.join(timeout=60)
    assert not thread.is_alive() and done and done[0] >= released


def test_read_only_artifacts_run_under_auto(tiny_artifacts: Path, tmp_path: Path) -> None:
    """A read-only model volume (normal in containers) must not crash `run`: OpenVINO's compiled-model cache
    moves to the user's cache folder. The artifacts are bind-mounted read-only in a private mount namespace."""
    import shutil
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    from tests.conftest import hole_mask, photo

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs unshare -m (a private mount namespace) for a read-only bind mount")
    ro = tmp_path / "ro"
    shutil.copytree(tiny_artifacts, ro, ignore=shutil.ignore_patterns("openvino_cache", ".lock"))
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    Image.fromarray(photo("coffee", 64)).save(tmp_path / "i" / "a.png")
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(tmp_path / "m" / "a.png")
    run = f"{sys.executable} -m edgeinpaint.cli run -i {tmp_path / 'i'} -m {tmp_path / 'm'} -o {tmp_path / 'o'}"
    script = f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && {run} --artifacts {ro} --backend openvino"
    env = {**os.environ, "EDGEINPAINT_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"}
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "o" / "a.png").is_file() and not (ro / "openvino_cache").exists()
    assert any((tmp_path / "cache" / "openvino").iterdir())  # the compiled model went to the user's cache


def test_compiled_models_are_cached_per_onnx_file_outside_the_artifacts(
    tiny_artifacts: Path, poisson_artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OpenVINO cache lives in the user's cache folder, one folder per ONNX file's sha256: a cache
    planted in a (shared) artifacts folder is never read or written, and other weights never share blobs."""
    import shutil

    from edgeinpaint.core.manifest import read_manifest

    monkeypatch.setenv("EDGEINPAINT_CACHE", str(tmp_path / "cache"))
    art = tmp_path / "art"
    shutil.copytree(tiny_artifacts, art, ignore=shutil.ignore_patterns("openvino_cache", ".lock"))
    planted = art / "openvino_cache"
    planted.mkdir()
    (planted / "0123456789.blob").write_bytes(b"a blob compiled from other weights")
    outside = tmp_path / "outside"
    outside.mkdir()
    (art / "elsewhere").symlink_to(outside)
    rgb = np.zeros((32, 32, 3), np.uint8)
    hole = np.zeros((32, 32), bool)
    hole[8:16, 8:16] = True
    for artifacts in (art, poisson_artifacts):
        with open_recipe(ModelSource(artifacts=artifacts), EngineOptions(backend=Backend.OPENVINO)) as inp:
            inp(rgb, hole)
    expected = {
        read_manifest(a).require(role, "fp32").sha256[:32]
        for a in (art, poisson_artifacts)
        for role in ("edge_generator", "inpaint_generator")
    }
    assert {p.name for p in (tmp_path / "cache" / "openvino").iterdir()} == expected
    assert [p.name for p in planted.iterdir()] == ["0123456789.blob"] and not any(outside.iterdir())
