"""Options of ``edgeinpaint export`` (shared by the exporter's modules without importing each other)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from edgeinpaint.calibration.qdq import CalibrationMethod
from edgeinpaint.core import specs
from edgeinpaint.core.params import FusedRecipe


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``edgeinpaint export``.

    Attributes:
        weights: weights file.
        output: artifacts directory.
        opset: ONNX opset.
        precision: fp32, fp16 or int8 (FP32 is always exported: it is the reference).
        calibration: image directory for INT8 calibration and accuracy checks.
        calibration_masks: mask directory paired with it (None = generated free-form masks).
        calibration_size: number of calibration images.
        calibration_method: calibration/qdq.py :class:`CalibrationMethod`.
        fused_uint8: fused model with uint8 NHWC I/O (else float32 NCHW).
        fused_recipe: edge source, 8-bit rounding and the uint8 mask rule baked into the fused model
            (``--preset official``: raw edges, truncation, mask > 0).
        engine: build TensorRT engines (None = when TensorRT and a GPU are present).
        shapes: TensorRT profile spec (see core.sidecar.parse_shapes).
        workspace_gib: TensorRT workspace limit.
        optimization_level: TensorRT builder optimization level (0-5).
    """

    weights: Path
    output: Path
    opset: int = specs.OPSET
    precision: specs.Precision = specs.Precision.FP32
    calibration: Path | None = None
    calibration_masks: Path | None = None
    calibration_size: int = 32
    calibration_method: CalibrationMethod = CalibrationMethod.PERCENTILE
    fused_uint8: bool = True
    fused_recipe: FusedRecipe = field(default_factory=FusedRecipe)
    engine: bool | None = None
    shapes: str | None = None
    workspace_gib: float = 4.0
    optimization_level: int = 3


class FusedIO(str, enum.Enum):
    """The fused model's I/O: NHWC uint8 (hosts need no pre/post) or NCHW float."""

    UINT8 = "uint8"
    FLOAT = "float"
