"""Canny benchmark: the exact graph on ONNX Runtime CPU vs skimage vs cv2.Canny, as ratios in one run.

    python -m edgeinpaint.benchmarks.canny --sizes 256,512,1024 --repeat 7

Also reports the Canny share of the per-image pipeline time at 256² (graph Canny + both generators
of the given weights on ONNX Runtime). cv2.Canny is a different algorithm (no masked blur, L1/L2
norm choice, 45° rounding): listed as the speed reference users ask about, not a substitute.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    return _interleaved_ms({"fn": fn}, repeat)["fn"]


def _interleaved_ms(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median ms of each function, timed round-robin so machine noise hits all of them alike.

    The project's CI machines are shared: timing A's repeats and then B's lets a noisy minute
    land on one side; interleaving keeps the ratios honest.
    """
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def run(sizes: list[int], repeat: int, threads: int | None, weights: str | None) -> list[dict[str, float | int | str]]:
    import cv2
    import skimage.data
    from skimage.feature import canny

    from edgeinpaint.canny.graph import build_canny_model
    from edgeinpaint.canny.reference import rgb_to_gray
    from edgeinpaint.canny.stage import GraphCanny
    from edgeinpaint.trainer.masks import MaskSampler

    graph = GraphCanny(build_canny_model(2.0, 0.1, 0.2, exact=True), threads=threads)
    graph32 = GraphCanny(build_canny_model(2.0, 0.1, 0.2, exact=False), threads=threads)
    base = skimage.data.astronaut()
    rows: list[dict[str, float | int | str]] = []
    for n in sizes:
        rgb = cv2.resize(base, (n, n), interpolation=cv2.INTER_AREA)
        gray = rgb_to_gray(rgb / 255.0)
        known = ~MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.3)).sample(np.random.default_rng(0), n, n)
        g8 = np.round(gray * 255).astype(np.uint8)
        assert np.array_equal(graph(gray, known), canny(gray, 2.0, 0.1, 0.2, mask=known))
        blurred = functools.partial(cv2.GaussianBlur, g8, (0, 0), 2.0)
        ms = _interleaved_ms(
            {
                "graph": functools.partial(graph, gray, known),
                "graph32": functools.partial(graph32, gray, known),
                "skimage": functools.partial(canny, gray, 2.0, 0.1, 0.2, mask=known),
                "cv2": lambda: cv2.Canny(blurred(), 25, 51, L2gradient=True),  # noqa: B023
            },
            repeat,
        )
        t_graph, t_graph32, t_sk, t_cv = ms["graph"], ms["graph32"], ms["skimage"], ms["cv2"]
        rows.append(
            {
                "size": n,
                "graph_fp64_ms": round(t_graph, 2),
                "graph_fp32_ms": round(t_graph32, 2),
                "skimage_ms": round(t_sk, 2),
                "cv2_ms": round(t_cv, 2),
                "skimage_over_graph": round(t_sk / t_graph, 3),
                "skimage_over_graph_fp32": round(t_sk / t_graph32, 3),
                "cv2_over_graph": round(t_cv / t_graph, 3),
            }
        )
    if weights is not None:
        rows.append(_pipeline_share(weights, graph, repeat))
    return rows


def _pipeline_share(weights: str, graph: object, repeat: int) -> dict[str, float | int | str]:
    """Canny's share of one 256² image through the whole single-process pipeline."""
    import cv2
    import skimage.data

    from edgeinpaint.export.artifacts import cached_artifacts
    from edgeinpaint.images import Decoded
    from edgeinpaint.runtime.pipeline import open_onnxruntime
    from edgeinpaint.trainer.masks import MaskSampler
    from edgeinpaint.weights.registry import resolve_weights

    inpainter = open_onnxruntime(cached_artifacts(resolve_weights(weights)))
    rgb = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    hole = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.3)).sample(np.random.default_rng(0), 256, 256)
    decoded = Decoded(rgb, None, Path("x.png"))
    from edgeinpaint.canny.reference import rgb_to_gray

    gray = rgb_to_gray(rgb / 255.0)
    ms = _interleaved_ms(
        {"total": lambda: inpainter(decoded, hole), "canny": lambda: inpainter.canny(gray, ~hole)}, repeat
    )
    t_total, t_canny = ms["total"], ms["canny"]
    return {
        "size": "pipeline@256",
        "weights": weights,
        "pipeline_ms": round(t_total, 2),
        "canny_ms": round(t_canny, 2),
        "canny_share": round(t_canny / t_total, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads (default: all cores)")
    parser.add_argument(
        "--weights", default=None, help="also measure Canny's share of the 256² pipeline with these weights"
    )
    args = parser.parse_args()
    rows = run([int(s) for s in args.sizes.split(",")], args.repeat, args.threads, args.weights)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
