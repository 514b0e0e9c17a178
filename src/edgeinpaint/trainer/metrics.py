"""Evaluation metrics on the composited output, overall and by hole-ratio bin.

Definitions (stated because EdgeConnect's own scripts differ from standard tools):
- PSNR: skimage.metrics.peak_signal_noise_ratio on 8-bit RGB, data_range 255, capped at 100 dB
  (a perfect reconstruction would otherwise make every mean infinite).
- SSIM: skimage.metrics.structural_similarity on 8-bit RGB (channel_axis), its default 7x7
  uniform window, data_range 255 — not the official script's 51-px window on gray.
- L1: mean absolute error in [0, 1] units, over the whole image and over hole pixels only.
- LPIPS (v0.1, AlexNet) and FID (Inception pool features) only with local weights
  (trainer/feature_metrics.py); FID over the whole set, in the "all" row.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PSNR_CAP = 100.0
BINS: tuple[tuple[float, float], ...] = tuple((i / 10, (i + 1) / 10) for i in range(6))
METRIC_DEFINITIONS = {
    "psnr": "skimage peak_signal_noise_ratio, RGB uint8, data_range 255, capped at 100 dB",
    "ssim": "skimage structural_similarity, RGB uint8 (channel_axis=2), 7x7 uniform window, data_range 255",
    "l1": "mean |output - truth| / 255 over all pixels and channels",
    "hole_l1": "mean |output - truth| / 255 over hole pixels only",
    "lpips": "LPIPS v0.1 AlexNet (Zhang et al. 2018) of the composite vs the truth, per image, averaged",
    "fid": "Frechet distance of Inception-2015-12-05 pool features, composites vs truths, whole set",
}


def image_metrics(output: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """Metrics of one composited output.

    Args:
        output, truth: (H, W, 3) uint8. hole: (H, W) bool.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    diff = np.abs(output.astype(np.float64) - truth.astype(np.float64)) / 255.0
    exact = np.array_equal(output, truth)
    return {
        "psnr": PSNR_CAP if exact else min(PSNR_CAP, float(peak_signal_noise_ratio(truth, output, data_range=255))),
        "ssim": float(structural_similarity(truth, output, channel_axis=2, data_range=255)),
        "l1": float(diff.mean()),
        "hole_l1": float(diff[hole].mean()) if hole.any() else 0.0,
        "hole_ratio": float(hole.mean()),
    }


def bin_label(ratio: float) -> str:
    for lo, hi in BINS:
        if lo <= ratio < hi or (hi == BINS[-1][1] and ratio == hi):
            return f"{int(lo * 100)}-{int(hi * 100)}%"
    return ">60%"


@dataclass
class Evaluation:
    """Per-method rows and their aggregation.

    Attributes:
        rows: method -> list of per-image metric dicts (with ``image``).
    """

    rows: dict[str, list[dict[str, float | str]]] = field(default_factory=dict)
    fid: dict[str, float] = field(default_factory=dict)

    def add(self, method: str, image: str, metrics: dict[str, float]) -> None:
        self.rows.setdefault(method, []).append({"image": image, **metrics})

    def summary(self) -> list[dict[str, float | str | int]]:
        """Mean metrics per method, overall and per hole-ratio bin."""
        out: list[dict[str, float | str | int]] = []
        for method, rows in self.rows.items():
            groups: dict[str, list[dict[str, float | str]]] = {"all": rows}
            for r in rows:
                groups.setdefault(bin_label(float(r["hole_ratio"])), []).append(r)
            for group, items in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
                row: dict[str, float | str | int] = {"method": method, "bin": group, "n": len(items)}
                for key in ("psnr", "ssim", "l1", "hole_l1", "lpips"):
                    if key in items[0]:
                        row[key] = float(np.mean([float(i[key]) for i in items]))
                if method in self.fid:
                    row["fid"] = self.fid[method] if group == "all" else float("nan")
                out.append(row)
        return out

    def write(self, path: Path) -> None:
        """JSON (definitions, summary, per-image rows) or CSV (summary) by suffix."""
        path.parent.mkdir(parents=True, exist_ok=True)
        from edgeinpaint.core.atomic import write_text

        if path.suffix.lower() == ".csv":
            summary = self.summary()
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(summary[0]))
            writer.writeheader()
            writer.writerows(summary)
            write_text(path, text.getvalue())
        else:
            document = {"definitions": METRIC_DEFINITIONS, "summary": self.summary(), "images": self.rows}
            write_text(path, json.dumps(document, indent=2))


def opencv_inpaint(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """cv2.inpaint baseline (``telea`` or ``ns``), radius 3, on RGB uint8."""
    import cv2

    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]

    def run(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.inpaint(rgb, hole.astype(np.uint8) * 255, 3, flag))

    return run


def harmonic_inpaint() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Harmonic (membrane) interpolation of the hole from its border: the Poisson composite of a
    flat output. The baseline that shows what ``blend = "poisson"`` does without a model."""
    from edgeinpaint.core.blend import blend

    def run(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return blend(np.zeros(rgb.shape, np.float32), rgb, hole, "poisson")

    return run


def evaluate_methods(
    methods: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]],
    pairs: Sequence[tuple[str, np.ndarray, np.ndarray]],
    on_image: Callable[[], None] | None = None,
    lpips: Callable[[np.ndarray, np.ndarray], float] | None = None,
    features: Callable[[list[np.ndarray]], np.ndarray] | None = None,
) -> Evaluation:
    """Run every method on every (name, truth uint8 RGB, hole) and collect metrics of the composite.

    Args:
        lpips: per-image LPIPS (feature_metrics.Lpips), when its weights are available.
        features: Inception features (feature_metrics.InceptionFeatures) for FID, likewise.
    """
    from edgeinpaint.trainer.feature_metrics import frechet_distance

    ev = Evaluation()
    feats: dict[str, list[np.ndarray]] = {}
    for name, truth, hole in pairs:
        if features is not None:
            feats.setdefault("<truth>", []).append(features([truth]))
        for method, fn in methods.items():
            out = fn(truth, hole)
            composite = np.where(hole[..., None], out, truth)
            metrics = image_metrics(composite, truth, hole)
            if lpips is not None:
                metrics["lpips"] = lpips(composite, truth)
            if features is not None:
                feats.setdefault(method, []).append(features([composite]))
            ev.add(method, name, metrics)
        if on_image:
            on_image()
    if features is not None:
        truth_feats = np.concatenate(feats.pop("<truth>"))
        ev.fid = {m: frechet_distance(np.concatenate(f), truth_feats) for m, f in feats.items()}
    return ev


class Baseline(str, enum.Enum):
    """evaluate --baseline: OpenCV's Telea / Navier-Stokes, or harmonic interpolation."""

    TELEA = "telea"
    NS = "ns"
    HARMONIC = "harmonic"
