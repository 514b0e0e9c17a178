"""Runtime benchmarks, each a ratio of candidates timed in the same run:

(a) pipeline throughput vs the bare engine (demo model, 256² PNG files);
(b) shared-memory pipeline vs the in-process loop with a tiny model, where decode/encode dominate;
(c) high-resolution crop strategy vs the whole image on a 2048x1536 photo with ~2% strokes.

    python -m edgeinpaint.benchmarks.pipeline --weights demo --images 120

(b) uses ``--tiny-weights`` when given, else generates a 2-channel, 1-block EdgeConnect with
random weights (needs torch): its inference is a few ms per 512² image, so the run measures what
the pipeline exists for — decoding, Canny and encoding spread over the cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.benchmarks.photos import write_mask


def _photos(folder: Path, n: int, size: int) -> Path:
    import cv2
    import skimage.data
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = ("astronaut", "coffee", "chelsea", "rocket")
    for i in range(n):
        img = getattr(skimage.data, names[i % 4])()[..., :3]
        h, w = img.shape[:2]
        s = min(h, w) - (i % 7) * 9  # different crops so files differ
        y, x = (h - s) // 2, (w - s) // 2
        crop = cv2.resize(img[y : y + s, x : x + s], (size, size), interpolation=cv2.INTER_AREA)
        Image.fromarray(crop).save(folder / f"img{i:04d}.png")
    return folder


def tiny_weights(path: Path, base_channels: int = 2, residual_blocks: int = 1) -> Path:
    """A random-weight EdgeConnect small enough that decode/Canny/encode dominate a 512² image."""
    import torch

    from edgeinpaint.core.architecture import Architecture
    from edgeinpaint.models import EdgeGenerator, InpaintGenerator
    from edgeinpaint.weights.format import Weights, save_weights

    torch.manual_seed(0)
    arch = Architecture(base_channels, residual_blocks)
    nets = {"edge_generator": EdgeGenerator(arch, use_spectral_norm=False), "inpaint_generator": InpaintGenerator(arch)}
    tensors = {name: {k: v.detach().numpy() for k, v in net.state_dict().items()} for name, net in nets.items()}
    save_weights(Weights(tensors, arch, provenance={"source": "benchmarks.pipeline tiny model"}), path)
    return path


def pipeline_vs_engine(
    weights: Path, n: int, tmp: Path, workers: int, rounds: int = 3, blend: str = "paste"
) -> dict[str, Any]:
    """(a): steady pipeline throughput over the bare engine's (both generators, batch 1).

    ``blend`` defaults to the paper's paste, so the ratio measures what the pipeline hides (decode,
    Canny, encode); a Poisson composite is extra CPU work in the writers, reported separately.
    """
    from edgeinpaint.benchmarks.suites import bench_samples
    from edgeinpaint.benchmarks.timing import measure
    from edgeinpaint.core.jobs import plan_run
    from edgeinpaint.core.params import Blend
    from edgeinpaint.runtime.inpainter import ModelSource, PictureOptions, open_recipe
    from edgeinpaint.runtime.workers import PipelineStats, run_pipeline

    images = _photos(tmp / "a_images", n, 256)
    mask = write_mask(tmp / "a_mask.png", 256)
    inpainter = open_recipe(ModelSource(weights=str(weights)), picture=PictureOptions(blend=Blend(blend)))
    samples = bench_samples(256, 1, inpainter.canny)

    def engine() -> float:  # the networks alone: the recipe's infer
        return measure(lambda: inpainter.infer(samples), 1, duration=4.0).images_per_s

    # The machine's speed drifts by several percent over a minute, so engine and pipeline runs
    # alternate (E P E P E) and each pipeline run is compared with the mean of its neighbours.
    engines = [engine()]
    runs: list[dict[str, float]] = []
    for r in range(rounds):
        stats = PipelineStats()
        done_times: list[float] = []
        t0 = time.perf_counter()
        summary = run_pipeline(
            inpainter,
            plan_run(images, mask, tmp / f"a_out{r}").jobs,
            workers=workers,
            stats=stats,
            on_done=lambda job, err: done_times.append(time.perf_counter()),  # noqa: B023
        )
        wall = time.perf_counter() - t0
        assert not summary.failed, summary.failed[:2]
        engines.append(engine())
        # steady state: from the first finished image to the last (excludes process start-up)
        steady = (len(done_times) - 1) / (done_times[-1] - done_times[0])
        runs.append(
            {
                "pipeline_steady": steady,
                "pipeline_total": len(summary.done) / wall,
                "engine": (engines[-2] + engines[-1]) / 2,
                "busy": stats.engine_busy_s / wall,
                "wait_in": stats.wait_input_s / wall,
                "wait_out": stats.wait_output_s / wall,
                "startup": stats.startup_s,
            }
        )
    ratios = [r["pipeline_steady"] / r["engine"] for r in runs]
    return {
        "blend": blend,
        "engine_images_per_s": [round(e, 3) for e in engines],
        "pipeline_images_per_s_steady": [round(r["pipeline_steady"], 3) for r in runs],
        "pipeline_images_per_s_total": [round(r["pipeline_total"], 3) for r in runs],
        "startup_s": [round(r["startup"], 2) for r in runs],
        "engine_busy_share": [round(r["busy"], 3) for r in runs],
        "engine_wait_input_share": [round(r["wait_in"], 3) for r in runs],
        "engine_wait_output_share": [round(r["wait_out"], 3) for r in runs],
        "steady_over_engine": [round(x, 3) for x in ratios],
        "steady_over_engine_mean": round(sum(ratios) / len(ratios), 3),
    }


def multiprocess_vs_inprocess(tiny_weights: Path, n: int, tmp: Path, workers: int, rounds: int = 2) -> dict[str, Any]:
    """(b): the same jobs in-process and through the pipeline, alternating, with CPU accounting.

    The CPU seconds per image (this process + the pipeline's workers) bound what any
    multi-process design can reach on this machine: ``cores × in-process wall / pipeline CPU``.
    """
    import os
    import resource

    from edgeinpaint.core.jobs import plan_run
    from edgeinpaint.runtime.inpainter import ModelSource, open_recipe
    from edgeinpaint.runtime.pipeline import run_jobs
    from edgeinpaint.runtime.workers import PipelineStats, run_pipeline

    def cpu_s() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    images = _photos(tmp / "b_images", n, 512)
    mask = write_mask(tmp / "b_mask.png", 512)
    inpainter = open_recipe(ModelSource(weights=str(tiny_weights)))
    rows: dict[str, list[float]] = {}
    for r in range(rounds):
        for mode in ("in_process", "pipeline"):
            jobs = plan_run(images, mask, tmp / f"b_{mode}{r}").jobs
            stats = PipelineStats()
            c0, t0 = cpu_s(), time.perf_counter()
            if mode == "in_process":
                summary = run_jobs(inpainter, jobs)
            else:
                summary = run_pipeline(inpainter, jobs, workers=workers, stats=stats)
            wall, cpu = time.perf_counter() - t0, cpu_s() - c0
            assert not summary.failed, summary.failed[:2]
            rows.setdefault(f"{mode}_images_per_s", []).append(len(summary.done) / wall)
            rows.setdefault(f"{mode}_cpu_ms_per_image", []).append(1e3 * cpu / len(summary.done))
            if mode == "pipeline":
                rows.setdefault("pipeline_startup_s", []).append(stats.startup_s)
    mean = {k: sum(v) / len(v) for k, v in rows.items()}
    cores = os.cpu_count() or 1
    return {
        **{k: [round(x, 3) for x in v] for k, v in rows.items()},
        "pipeline_over_in_process": round(mean["pipeline_images_per_s"] / mean["in_process_images_per_s"], 3),
        # The most any pipeline could reach with this much work per image on these cores.
        "cpu_bound_ratio": round(cores * 1e3 / mean["in_process_images_per_s"] / mean["pipeline_cpu_ms_per_image"], 3),
    }


def hd_crop_vs_original(weights: Path) -> dict[str, float]:
    import cv2
    import skimage.data

    from edgeinpaint.runtime.hd import HDConfig, HDStrategy
    from edgeinpaint.runtime.inpainter import ModelSource, PictureOptions, open_recipe

    rgb = cv2.resize(skimage.data.astronaut(), (2048, 1536), interpolation=cv2.INTER_CUBIC)
    hole = np.zeros((1536, 2048), np.uint8)
    rng = np.random.default_rng(1)
    while hole.mean() < 0.02:  # a few strokes
        p0 = rng.integers([0, 0], [2048, 1536])
        p1 = p0 + rng.integers(-250, 250, 2)
        cv2.line(hole, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), 1, int(rng.integers(15, 35)))
    mask = hole.astype(bool)
    times, outputs = {}, {}
    for strategy in (HDStrategy.ORIGINAL, HDStrategy.CROP):
        hd = HDConfig(strategy=strategy, trigger=1024)
        inpainter = open_recipe(ModelSource(weights=str(weights)), picture=PictureOptions(hd=hd))
        inpainter(rgb, mask)  # warm-up
        t0 = time.perf_counter()
        outputs[strategy] = inpainter(rgb, mask)
        times[strategy] = time.perf_counter() - t0
        inpainter.close()
    return {
        "hole_share": round(float(mask.mean()), 4),
        "original_s": round(times[HDStrategy.ORIGINAL], 3),
        "crop_s": round(times[HDStrategy.CROP], 3),
        "crop_speedup": round(times[HDStrategy.ORIGINAL] / times[HDStrategy.CROP], 2),
        "outside_hole_identical": bool(np.array_equal(outputs[HDStrategy.CROP][~mask], rgb[~mask])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="demo")
    parser.add_argument("--tiny-weights", default=None, help="a tiny model for (b); default: a generated one")
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from edgeinpaint.weights.registry import resolve_weights

    weights = resolve_weights(args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, dict[str, Any]] = {}
        results["a_pipeline_vs_engine"] = pipeline_vs_engine(weights, args.images, Path(tmp), args.workers)
        results["a_with_poisson_blend"] = pipeline_vs_engine(
            weights, args.images, Path(tmp), args.workers, rounds=1, blend="poisson"
        )
        tiny = Path(args.tiny_weights) if args.tiny_weights else tiny_weights(Path(tmp) / "tiny.safetensors")
        results["b_multiprocess_vs_in_process"] = multiprocess_vs_inprocess(tiny, args.images, Path(tmp), args.workers)
        results["c_hd_crop_vs_original"] = hd_crop_vs_original(weights)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
