"""End-to-end ``edgeinpaint run`` throughput on the CPU: each engine x precision against ONNX Runtime FP32.

    python -m edgeinpaint.benchmarks.cpu_engines --weights demo --sizes 256,512
    python -m edgeinpaint.benchmarks.cpu_engines --paper --sizes 256,512     # paper-width random weights

Every candidate is a full ``run`` (shared-memory pipeline, 2 readers, PNG photos in and out,
the weights' own composite) over the same folder; candidates alternate round-robin and each
ratio is taken against ONNX Runtime FP32 in the same round (these machines drift by several
percent a minute). PSNR of each candidate's pictures against ONNX Runtime FP32's. The CPU
features are printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeinpaint.benchmarks.photos import photo_pairs

CANDIDATES = (("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "bf16"), ("onnxruntime", "int8"),
              ("openvino", "int8"))  # fmt: skip


def _calibration(folder: Path) -> Path:
    """INT8 calibration images that are not the measured ones: scikit-image photos outside PHOTOS."""
    import cv2
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True)
    for name in ("hubble_deep_field", "immunohistochemistry", "retina", "colorwheel"):
        img = getattr(skimage.data, name)()[..., :3]
        h, w = img.shape[:2]
        s = min(h, w)
        crop = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        Image.fromarray(cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)).save(folder / f"{name}.png")
    return folder


def _paper_weights(path: Path) -> Path:
    from edgeinpaint.benchmarks.pipeline import tiny_weights

    return tiny_weights(path, base_channels=64, residual_blocks=8)  # the paper's widths, random values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="demo")
    parser.add_argument(
        "--paper", action="store_true", help="paper-width random weights (INT8 skipped: no calibration)"
    )
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from edgeinpaint.api import settings
    from edgeinpaint.core.cpu import cpu_features, cpu_model, has_bf16
    from edgeinpaint.core.params import Blend
    from edgeinpaint.core.specs import Precision
    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.runtime.batch import RunConfig, run_batch
    from edgeinpaint.weights.registry import resolve_weights

    env = {"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count()}
    print(json.dumps(env), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="eip-cpu-") as tmp_s:
        tmp = Path(tmp_s)
        weights = _paper_weights(tmp / "paper.safetensors") if args.paper else resolve_weights(args.weights)
        artifacts = tmp / "artifacts"
        calib = _calibration(tmp / "calib")
        # BF16 only where the CPU has it natively (export and the runtime refuse it elsewhere: never emulated).
        bf16 = has_bf16()
        candidates = [
            c for c in CANDIDATES if not (args.paper and c[1] == "int8") and (bf16 or c[1] != "bf16")
        ]  # fmt: skip
        precisions = [p for p in (("int8", "bf16") if not args.paper else ("bf16",)) if bf16 or p != "bf16"]
        for precision in precisions:
            export_artifacts(ExportConfig(weights=weights, output=artifacts, precision=Precision(precision),
                                          calibration=calib))  # fmt: skip
        export_artifacts(ExportConfig(weights=weights, output=artifacts))
        for size in (int(s) for s in args.sizes.split(",")):
            n = args.images if size <= 256 else max(6, args.images // 3)
            if args.paper:
                n = max(4, n // 4)
            images, masks = photo_pairs(tmp / f"set{size}", n, size)
            times: dict[tuple[str, str], list[float]] = {c: [] for c in candidates}
            ratios: dict[tuple[str, str], list[float]] = {c: [] for c in candidates}
            for r in range(args.rounds):
                for c in candidates:
                    out = tmp / f"o{size}_{c[0]}_{c[1]}_{r}"
                    config = RunConfig(
                        input=images,
                        mask=masks,
                        output=out,
                        model=settings(artifacts=artifacts, backend=c[0], precision=c[1]),
                    )
                    t0 = time.perf_counter()
                    outcome = run_batch(config)
                    assert not outcome.summary.failed, outcome.summary.failed[:2]
                    times[c].append(n / (time.perf_counter() - t0))
                base = times[candidates[0]][-1]
                for c in candidates:
                    ratios[c].append(times[c][-1] / base)
            from PIL import Image

            def pictures(c: tuple[str, str], size: int = size) -> list[np.ndarray]:
                folder = tmp / f"o{size}_{c[0]}_{c[1]}_0"
                return [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]

            ref = pictures(candidates[0])
            for c in candidates:
                psnr = float(np.mean([psnr8(a, b) for a, b in zip(ref, pictures(c), strict=True)]))
                row = {
                    "size": size,
                    "images": n,
                    "backend": c[0],
                    "precision": c[1],
                    "images_per_s": [round(x, 3) for x in times[c]],
                    "ratio_vs_ort_fp32": [round(x, 3) for x in ratios[c]],
                    "ratio_median": round(statistics.median(ratios[c]), 3),
                    "psnr_vs_ort_fp32": round(psnr, 2),
                    "weights": "paper-width random" if args.paper else str(args.weights),
                    "blend": Blend.PASTE.value if args.paper else "weights' own",
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
