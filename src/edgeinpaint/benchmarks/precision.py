"""INT8 / FP16 vs FP32 generator throughput on ONNX Runtime CPU, as ratios in one run.

    python -m edgeinpaint.benchmarks.precision --artifacts DIR          # exported artifacts (fp16/int8 present)
    python -m edgeinpaint.benchmarks.precision --paper-size             # the paper's 64-channel architecture

``--paper-size`` exports randomly initialised full-size generators and quantizes them with the
bundled photos as calibration data: the speed of a convolution does not depend on its weights'
values, so this measures what INT8 buys at the paper's width (accuracy is measured by `export`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def _time(path: Path, size: int, duration: float, threads: int | None) -> float:
    import onnxruntime as ort

    from edgeinpaint.benchmarks.timing import measure

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in session.get_inputs():
        shape = (1, int(i.shape[1]), size, size)
        feeds[i.name] = (
            (rng.random(shape) > 0.8).astype(np.float32) if i.name == "mask" else rng.random(shape, dtype=np.float32)
        )
    return measure(lambda: session.run(None, feeds), 1, duration=duration).images_per_s


def paper_size_artifacts(folder: Path) -> Path:
    """FP32/FP16/INT8 inpaint-generator graphs of the paper's architecture (random weights)."""
    import torch

    from edgeinpaint.calibration.qdq import quantize_int8
    from edgeinpaint.calibration.sources import photo_samples
    from edgeinpaint.canny.stage import reference_canny
    from edgeinpaint.core.params import CannyParams
    from edgeinpaint.export.onnx import export_generator
    from edgeinpaint.export.precision import to_fp16
    from edgeinpaint.models import InpaintGenerator

    torch.manual_seed(0)
    fp32 = folder / "inpaint_generator.fp32.onnx"
    export_generator(InpaintGenerator().eval(), "inpaint_generator", fp32)
    to_fp16(fp32, folder / "inpaint_generator.fp16.onnx")
    samples = photo_samples(reference_canny(CannyParams()), 8, 256, seed=3)
    feeds = [{"image": s.image[None], "edges": s.edges[None], "mask": s.mask[None]} for s in samples]
    quantize_int8(fp32, folder / "inpaint_generator.int8.onnx", feeds)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=Path, default=None)
    parser.add_argument("--paper-size", action="store_true")
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = paper_size_artifacts(Path(tmp)) if args.paper_size else args.artifacts
        if folder is None:
            parser.error("give --artifacts DIR or --paper-size")
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            speeds = {}
            for precision in ("fp32", "fp16", "int8"):
                path = folder / f"inpaint_generator.{precision}.onnx"
                if path.is_file():
                    speeds[precision] = _time(path, size, args.duration, args.threads)
            row = {"size": size, **{f"{p}_images_per_s": round(v, 3) for p, v in speeds.items()}}
            for p in ("fp16", "int8"):
                if p in speeds:
                    row[f"{p}_over_fp32"] = round(speeds[p] / speeds["fp32"], 3)
            rows.append(row)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
