"""TensorRT engine build and run (needs an NVIDIA GPU with tensorrt and cuda-python; skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

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
