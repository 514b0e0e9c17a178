"""TensorRT engine build and run (needs an NVIDIA GPU with tensorrt and cuda-python; skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def test_build_engines_for_fp16(tiny_weights: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt")
    from edgeinpaint.core import specs
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    export_artifacts(
        ExportConfig(
            weights=tiny_weights,
            output=tmp_path,
            precision=specs.Precision.FP16,
            engine=True,
            shapes="batch=1:1:2,height=64:64:128,width=64:64:128",
        )
    )
    for name in ("edge_generator.fp16", "inpaint_generator.fp16", "edgeinpaint.fp16"):
        assert (tmp_path / f"{name}.engine").is_file() and (tmp_path / f"{name}.engine.json").is_file()


def test_torch_cuda_fp16_and_cuda_graphs_match_the_cpu_reference(tiny_weights: Path) -> None:
    from edgeinpaint.core.specs import Backend, Precision
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
    from tests.conftest import hole_mask, photo

    rgb, hole = photo("astronaut", 64), hole_mask(64, 64)
    source = ModelSource(weights=str(tiny_weights))
    ref = open_recipe(source, EngineOptions(backend=Backend.TORCH))(rgb, hole)
    for precision, floor in ((Precision.FP32, 45.0), (Precision.FP16, 30.0)):
        engine = EngineOptions(backend=Backend.TORCH_CUDA, precision=precision, cuda_graph=True)
        inpainter = open_recipe(source, engine)
        outs = [inpainter(rgb, hole) for _ in range(3)]  # capture, then replays
        assert all(np.array_equal(outs[0], o) for o in outs[1:])
        mse = float(np.mean((outs[0].astype(float) - ref) ** 2))
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= floor
