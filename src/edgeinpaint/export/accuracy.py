"""Accuracy of a precision variant against FP32 on sample images.

For each variant: PSNR of the composited 8-bit output of the whole pipeline, and per stage the max
abs error and the PSNR when only that stage runs in the variant (so a failure names the stage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeinpaint.core.engine import Engine
from edgeinpaint.core.params import Blend
from edgeinpaint.core.stages import Sample, composite, edge_guide, infer


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * np.log10(255.0**2 / mse))


@dataclass
class VariantAccuracy:
    """Measured accuracy of one precision variant.

    Attributes:
        psnr: composited output vs FP32, dB (mean over samples).
        stage_psnr: stage -> composited PSNR when only that stage uses the variant.
        stage_max_abs: stage -> max abs error of that stage's raw output vs FP32.
        hole_l1_delta: |hole L1 (variant) − hole L1 (FP32)| in gray levels, vs the inputs.
    """

    psnr: float
    stage_psnr: dict[str, float]
    stage_max_abs: dict[str, float]
    hole_l1_delta: float

    def to_json(self) -> dict[str, float]:
        out = {"psnr_vs_fp32": round(self.psnr, 3), "hole_l1_delta_gray_levels": round(self.hole_l1_delta, 4)}
        for stage, v in self.stage_psnr.items():
            out[f"{stage}_psnr_vs_fp32"] = round(v, 3)
        for stage, v in self.stage_max_abs.items():
            out[f"{stage}_max_abs_vs_fp32"] = float(f"{v:.4g}")
        return out

    def failing_stage(self, floor: float) -> str | None:
        if self.psnr >= floor:
            return None
        return min(self.stage_psnr, key=lambda k: self.stage_psnr[k])


def measure(
    samples: Sequence[Sample], fp32: dict[str, Engine], variant: dict[str, Engine], blend: Blend
) -> VariantAccuracy:
    """Compare ``variant`` engines (edge_generator, inpaint_generator) against ``fp32`` ones.

    Pictures are composited with the weights' own ``blend`` and the inpaint stage is fed the
    composited edges, exactly as serving does.
    """
    psnrs: list[float] = []
    stage: dict[str, list[float]] = {"edge_generator": [], "inpaint_generator": []}
    max_abs = {"edge_generator": 0.0, "inpaint_generator": 0.0}
    l1_ref, l1_var = [], []
    for s in samples:
        ref = composite(s, infer([s], fp32["edge_generator"], fp32["inpaint_generator"])[0], blend)
        full = composite(s, infer([s], variant["edge_generator"], variant["inpaint_generator"])[0], blend)
        psnrs.append(psnr8(ref, full))
        only_edge = composite(s, infer([s], variant["edge_generator"], fp32["inpaint_generator"])[0], blend)
        only_inpaint = composite(s, infer([s], fp32["edge_generator"], variant["inpaint_generator"])[0], blend)
        stage["edge_generator"].append(psnr8(ref, only_edge))
        stage["inpaint_generator"].append(psnr8(ref, only_inpaint))
        feeds = {"gray": s.gray[None], "edges": s.edges[None], "mask": s.mask[None]}
        e32 = fp32["edge_generator"].run(feeds)["edges_pred"]
        ev = variant["edge_generator"].run(feeds)["edges_pred"]
        max_abs["edge_generator"] = max(max_abs["edge_generator"], float(np.abs(e32 - ev).max()))
        ifeeds = {"image": s.image[None], "edges": edge_guide(e32, s.edges[None], s.mask[None]), "mask": s.mask[None]}
        i32 = fp32["inpaint_generator"].run(ifeeds)["inpainted"]
        iv = variant["inpaint_generator"].run(ifeeds)["inpainted"]
        max_abs["inpaint_generator"] = max(max_abs["inpaint_generator"], float(np.abs(i32 - iv).max()))
        l1_ref.append(np.abs(ref.astype(float) - s.rgb8)[s.hole].mean())
        l1_var.append(np.abs(full.astype(float) - s.rgb8)[s.hole].mean())
    return VariantAccuracy(
        psnr=float(np.mean(psnrs)),
        stage_psnr={k: float(np.mean(v)) for k, v in stage.items()},
        stage_max_abs=max_abs,
        hole_l1_delta=float(abs(np.mean(l1_var) - np.mean(l1_ref))),
    )
