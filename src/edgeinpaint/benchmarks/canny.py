"""Canny benchmark: the graphs on ONNX Runtime CPU vs skimage vs cv2.Canny, as ratios in one run.

Graphs: ``exact`` (canny.onnx, float64, bit-identical with skimage), ``fast`` (canny.fast.onnx,
float32 with bit-parallel hysteresis; its F1 against skimage is printed), and the float32 graph
built for TensorRT (MaxPool hysteresis) run on ONNX Runtime for reference.

    python -m edgeinpaint.benchmarks.canny --sizes 256,512,1024 --weights demo

With --weights, also the Canny share of one 256² image through the single-process pipeline (decode,
Canny, both generators, composite, encode) for the exact and fast graphs. cv2.Canny is a different
algorithm (no masked blur, L1/L2 norm choice, 45° rounding): listed as the speed reference users
ask about, not a substitute.
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

    from edgeinpaint.canny.stage import graph_canny
    from edgeinpaint.core.images import rgb_to_gray
    from edgeinpaint.core.params import CannyParams
    from edgeinpaint.core.specs import CannyVariant
    from edgeinpaint.trainer.masks import MaskSampler

    params = CannyParams()
    graphs = {
        "exact": graph_canny(params, CannyVariant.EXACT, threads),
        "fast": graph_canny(params, CannyVariant.FAST, threads),
        "fp32_tensorrt_graph": graph_canny(params, CannyVariant.TENSORRT, threads),
    }
    base = skimage.data.astronaut()
    rows: list[dict[str, float | int | str]] = []
    for n in sizes:
        rgb = cv2.resize(base, (n, n), interpolation=cv2.INTER_AREA)
        gray = rgb_to_gray(rgb / 255.0)
        known = ~MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.3)).sample(np.random.default_rng(0), n, n)
        g8 = np.round(gray * 255).astype(np.uint8)
        ref = canny(gray, 2.0, 0.1, 0.2, mask=known)
        assert np.array_equal(graphs["exact"](gray, known), ref)
        fast = graphs["fast"](gray, known)
        blurred = functools.partial(cv2.GaussianBlur, g8, (0, 0), 2.0)
        fns: dict[str, Callable[[], object]] = {k: functools.partial(g, gray, known) for k, g in graphs.items()}
        fns["skimage"] = functools.partial(canny, gray, 2.0, 0.1, 0.2, mask=known)
        fns["cv2"] = lambda: cv2.Canny(blurred(), 25, 51, L2gradient=True)  # noqa: B023
        ms = _interleaved_ms(fns, repeat)
        row: dict[str, float | int | str] = {"size": n}
        row.update({f"{k}_ms": round(v, 2) for k, v in ms.items()})
        for k in graphs:
            row[f"skimage_over_{k}"] = round(ms["skimage"] / ms[k], 3)
        row["fast_f1_vs_skimage"] = round(float(2 * (fast & ref).sum() / max(1, fast.sum() + ref.sum())), 6)
        rows.append(row)
    if weights is not None:
        for backend in ("exact", "fast"):
            for blend in ("auto", "paste"):
                rows.append(_pipeline_share(weights, backend, repeat, blend))
    return rows


def _pipeline_share(weights: str, backend: str, repeat: int, blend: str = "auto") -> dict[str, float | int | str]:
    """Canny's share of one 256² image through the single-process pipeline: decode a PNG, Canny,
    both generators, composite, encode a PNG (what ``edgeinpaint run --in-process`` does per image)."""
    import tempfile

    import cv2
    import skimage.data
    from PIL import Image

    from edgeinpaint.core.images import decode_image, encode_image, rgb_to_gray
    from edgeinpaint.core.params import Blend
    from edgeinpaint.core.specs import CannyVariant
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, PictureOptions, open_recipe
    from edgeinpaint.trainer.masks import MaskSampler

    # "auto": the weights' own composite (the demo weights' is Poisson)
    inpainter = open_recipe(
        ModelSource(weights=weights),
        EngineOptions(canny=CannyVariant(backend)),
        PictureOptions(blend=None if blend == "auto" else Blend(blend)),
    )
    rgb = cv2.resize(skimage.data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    hole = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.3)).sample(np.random.default_rng(0), 256, 256)
    gray = rgb_to_gray(rgb / 255.0)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        Image.fromarray(rgb).save(src)

        def one_image() -> None:
            encode_image(inpainter(decode_image(src).rgb, hole), dst)

        ms = _interleaved_ms({"total": one_image, "canny": lambda: inpainter.canny(gray, ~hole)}, repeat)
    return {
        "size": "pipeline@256",
        "weights": weights,
        "canny": backend,
        "blend": inpainter.blend.value,
        "image_ms": round(ms["total"], 2),
        "canny_ms": round(ms["canny"], 2),
        "canny_share": round(ms["canny"] / ms["total"], 4),
    }


def parity(folder: Path, every: int = 3, max_side: int = 1023) -> dict[str, float | int]:
    """Pixels where the exact and fast graphs differ from skimage on real photos.

    Every ``every``-th image of ``folder`` (sorted), downscaled to ``max_side`` (odd heights for
    every other image), × sigma 1, 2, 3, 4 × without and with a seeded free-form hole.
    """
    from PIL import Image
    from skimage.feature import canny

    from edgeinpaint.canny.graph import build_canny_model
    from edgeinpaint.canny.stage import GraphCanny
    from edgeinpaint.core.images import IMAGE_SUFFIXES, rgb_to_gray
    from edgeinpaint.trainer.masks import MaskSampler

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[::every]
    graphs = {
        s: {
            "exact": GraphCanny(build_canny_model(s, 0.1, 0.2, exact=True), threads=1),
            "fast": GraphCanny(build_canny_model(s, 0.1, 0.2, exact=False, hysteresis="bits"), threads=1),
        }
        for s in (1.0, 2.0, 3.0, 4.0)
    }
    differing = {"exact": 0, "fast": 0}
    hits, total, cases, edges = 0, 0, 0, 0
    for i, path in enumerate(files):
        with Image.open(path) as opened:
            im = opened.convert("RGB")
            im.thumbnail((max_side, max_side))
            rgb = np.asarray(im)
        rgb = rgb[: (rgb.shape[0] // 2) * 2 - 1] if i % 2 else rgb  # odd heights too
        gray = rgb_to_gray(rgb / 255.0)
        for sigma, pair in graphs.items():
            for holed in (False, True):
                known = np.ones(gray.shape, bool)
                if holed:
                    sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.4))
                    known = ~sampler.sample(np.random.default_rng(i), *gray.shape)
                ref = canny(gray, sigma, 0.1, 0.2, mask=known)
                for name, graph in pair.items():
                    got = graph(gray, known)
                    differing[name] += int((got != ref).sum())
                    if name == "fast":
                        hits += int((got & ref).sum())
                        total += int(got.sum() + ref.sum())
                edges += int(ref.sum())
                cases += 1
    return {
        "photos": len(files),
        "cases": cases,
        "skimage_edge_pixels": edges,
        "exact_differing_pixels": differing["exact"],
        "fast_differing_pixels": differing["fast"],
        "fast_f1": round(2 * hits / max(1, total), 6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads (default: all cores)")
    parser.add_argument(
        "--weights", default=None, help="also measure Canny's share of the 256² pipeline with these weights"
    )
    parser.add_argument("--parity", type=Path, default=None, help="a folder of photos: count differing pixels instead")
    args = parser.parse_args()
    if args.parity is not None:
        print(json.dumps(parity(args.parity)))
        return
    rows = run([int(s) for s in args.sizes.split(",")], args.repeat, args.threads, args.weights)
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
