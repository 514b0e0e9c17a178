"""``edgeinpaint bench``: backends × precisions × batch × size, with stages, pipeline, accuracy, roofline."""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.benchmarks.timing import Stats, measure, peak_rss_mb, rss_mb
from edgeinpaint.core import specs
from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.manifest import read_manifest
from edgeinpaint.core.stages import Sample
from edgeinpaint.core.version import __version__

Row = dict[str, Any]


@dataclass(frozen=True)
class BenchConfig:
    """Options of ``edgeinpaint bench`` (see the command's help)."""

    artifacts: Path
    weights: Path | None = None
    backends: tuple[specs.Backend, ...] = (specs.Backend.ONNXRUNTIME,)
    precisions: tuple[str, ...] = ("fp32",)
    batches: tuple[int, ...] = (1,)
    sizes: tuple[int, ...] = (256,)
    stages: bool = False
    pipeline: Path | None = None
    duration: float | None = 3.0
    iterations: int | None = None
    baseline_torch: bool = True
    threads: int | None = None
    rounds: int = 3


@dataclass
class _Candidate:
    """One opened backend × precision being measured (load_s: open time, counted in the first cold start)."""

    backend: str
    precision: str
    inpainter: Any
    load_s: float


def _pooled(stats: list[Stats]) -> Stats:
    """One Stats for several rounds: the median of the rounds' medians and speeds, the worst round's p90/p99."""
    return Stats(
        median_ms=float(np.median([st.median_ms for st in stats])),
        p90_ms=max(st.p90_ms for st in stats),
        p99_ms=max(st.p99_ms for st in stats),
        calls=sum(st.calls for st in stats),
        images_per_s=float(np.median([st.images_per_s for st in stats])),
    )


@dataclass
class BenchResult:
    rows: list[Row] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)


def environment(threads: int | None) -> dict[str, Any]:
    """Versions, CPU, providers and git commit for the JSON report."""
    import onnxruntime as ort

    from edgeinpaint.core.cpu import cpu_features, cpu_model

    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        commit = git.stdout.strip() or None
    env: dict[str, Any] = {
        "edgeinpaint": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cores": os.cpu_count(),
        "threads": threads,
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "numpy": np.__version__,
        "git_commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return env


def bench_samples(size: int, batch: int, canny: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> list[Sample]:
    """``batch`` real photos (scikit-image) at size², with seeded free-form holes of 10-35%."""
    from edgeinpaint.calibration.sources import photo_samples

    return photo_samples(canny, batch, size, seed=5)


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda _m: None) -> BenchResult:
    """Measure every configuration; unavailable ones become rows with the reason."""
    from edgeinpaint.benchmarks.roofline import graph_gmac, matmul_peak_gflops
    from edgeinpaint.export.accuracy import psnr8
    from edgeinpaint.runtime.engines import TABLE, EngineRequest
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

    manifest = read_manifest(config.artifacts)
    result = BenchResult(environment=environment(config.threads))
    progress("measuring the matmul peak")
    peak = matmul_peak_gflops()
    result.environment["matmul_peak_gflops"] = round(peak, 1)
    reference = open_recipe(ModelSource(artifacts=config.artifacts), EngineOptions(threads=config.threads))
    gmac: dict[int, float] = {}
    for size in config.sizes:
        roles = ("edge_generator", "inpaint_generator")
        gmac[size] = sum(graph_gmac(config.artifacts / manifest.require(r, "fp32").file, size, size) for r in roles)

    weights = config.weights or (Path(manifest.weights["path"]) if manifest.weights.get("path") else None)
    candidates: list[tuple[str, str]] = [(b.value, p) for b in config.backends for p in config.precisions]
    if config.baseline_torch:
        candidates.insert(0, ("torch", "fp32"))
    opened: list[_Candidate] = []
    for backend_name, precision in candidates:
        backend, level = specs.Backend(backend_name), specs.Precision(precision)
        request = EngineRequest(artifacts=config.artifacts, manifest=manifest, weights=weights, precision=level)
        reason = TABLE[backend].unavailable(request) if backend is not specs.Backend.AUTO else None
        if backend is specs.Backend.TORCH and (weights is None or not weights.is_file()):
            reason = "needs the weights file (--weights)"
        if reason is None and backend is not specs.Backend.TORCH and manifest.find("edge_generator", precision) is None:
            reason = f"no {precision} artifacts (edgeinpaint export --precision {precision})"
        if reason is not None:
            result.rows.extend(
                _row(backend_name, precision, batch, size, "model", status="unavailable", reason=reason)
                for size in config.sizes
                for batch in config.batches
            )
            continue
        t0 = time.perf_counter()
        on_torch = backend is specs.Backend.TORCH
        source = ModelSource(weights=str(weights)) if on_torch else ModelSource(artifacts=config.artifacts)
        inpainter = open_recipe(source, EngineOptions(backend=backend, precision=level, threads=config.threads))
        opened.append(_Candidate(backend_name, precision, inpainter, time.perf_counter() - t0))
    rounds = max(1, config.rounds)
    iterations = None if config.iterations is None else max(1, config.iterations // rounds)
    duration = None if config.duration is None else config.duration / rounds
    for size in config.sizes:
        for batch in config.batches:
            samples = bench_samples(size, batch, reference.canny)
            ref = reference.batch(samples)
            first: dict[int, dict[str, float]] = {}
            for i, c in enumerate(opened):
                t1 = time.perf_counter()
                raws = c.inpainter.infer(samples)
                # Both pictures with the weights' own composite: the FP32 reference row must read as
                # identical to the reference (it once compared paste against Poisson: 22 dB).
                ours = [c.inpainter.finish(s, r) for s, r in zip(samples, raws, strict=True)]
                psnr = float(np.mean([psnr8(x, y) for x, y in zip(ours, ref, strict=True)]))
                first[i] = {"cold": (c.load_s + time.perf_counter() - t1) * 1e3, "psnr": psnr}
                c.load_s = 0.0  # cold start counts the load once, with the first configuration
            # Rounds in alternating order (forward, then backward, ...): on a noisy machine no candidate
            # always runs first (or right after the same neighbour), and the spread across rounds is shown.
            per: dict[int, list[Stats]] = {i: [] for i in range(len(opened))}
            for r in range(rounds):
                order = list(range(len(opened)))
                for i in order if r % 2 == 0 else order[::-1]:
                    c = opened[i]
                    progress(f"{c.backend} {c.precision} batch {batch} size {size} (round {r + 1}/{rounds})")
                    call = functools.partial(c.inpainter.infer, samples)  # the networks: the recipe's infer
                    per[i].append(measure(call, batch, iterations=iterations, duration=duration))
            torch_speed = None
            for i, c in enumerate(opened):
                stats = per[i]
                speeds = sorted(st.images_per_s for st in stats)
                median_speed = float(np.median(speeds))
                row = _row(c.backend, c.precision, batch, size, "model", stats=_pooled(stats))
                gflops = 2 * gmac[size] * median_speed
                row.update(
                    images_per_s=round(median_speed, 3),
                    images_per_s_min=round(speeds[0], 3),
                    images_per_s_max=round(speeds[-1], 3),
                    rounds=len(stats),
                    cold_start_ms=round(first[i]["cold"], 1),
                    rss_mb=round(rss_mb(), 1),
                    peak_rss_mb=round(peak_rss_mb(), 1),
                    psnr_vs_fp32=round(first[i]["psnr"], 2),
                    gmac_per_image=round(gmac[size], 3),
                    gflops=round(gflops, 1),
                    peak_share=round(gflops / peak, 3),
                )
                if c.backend == specs.Backend.TORCH.value:
                    torch_speed = [st.images_per_s for st in stats]
                row.update(transfers_per_call(c.inpainter))
                result.rows.append(row)
            if torch_speed is not None:  # per round, against the baseline measured in the same round
                for row, i in zip(result.rows[-len(opened) :], range(len(opened)), strict=True):
                    ratios = sorted(st.images_per_s / t for st, t in zip(per[i], torch_speed, strict=True))
                    row["speedup_vs_torch"] = round(float(np.median(ratios)), 3)
                    row["speedup_min"], row["speedup_max"] = round(ratios[0], 3), round(ratios[-1], 3)
            if config.stages:
                for c in opened:
                    result.rows.extend(_stage_rows(config, c.backend, c.precision, batch, size, samples, c.inpainter))
    for c in opened:
        c.inpainter.close()
    reference.close()
    if config.pipeline is not None:
        result.rows.extend(_pipeline_rows(config, progress))
    return result


def transfers_per_call(inpainter: Any) -> dict[str, float]:
    """Host<->device copies and bytes per engine call, summed over the stages (engines that count them)."""
    engines = [e for e in (inpainter.generators.edge, inpainter.generators.inpaint, inpainter.generators.fused) if e]
    stats = [e.stats for e in engines if hasattr(e, "stats")]
    if not stats or not stats[0].calls:
        return {}
    calls = stats[0].calls
    return {
        "h2d_copies_per_batch": round(sum(s.uploads for s in stats) / calls, 2),
        "h2d_bytes_per_batch": round(sum(s.upload_bytes for s in stats) / calls),
        "d2h_copies_per_batch": round(sum(s.downloads for s in stats) / calls, 2),
        "d2h_bytes_per_batch": round(sum(s.download_bytes for s in stats) / calls),
    }


def _row(
    backend: str, precision: str, batch: int, size: int, stage: str, stats: Stats | None = None, **extra: Any
) -> Row:
    row: Row = dict(backend=backend, precision=precision, batch=batch, size=size, stage=stage, status="ok")
    if stats is not None:
        row.update({k: round(getattr(stats, k), 3) for k in ("median_ms", "p90_ms", "p99_ms", "images_per_s")})
        row["calls"] = stats.calls
    return {**row, **extra}


def _stage_rows(
    config: BenchConfig, backend: str, precision: str, batch: int, size: int, samples: list[Sample], inpainter: Any
) -> list[Row]:
    """Where the time goes: Canny, each generator, and pre/post processing, measured separately."""
    from edgeinpaint.core.stages import crop_output, edge_guide, preprocess

    gray = np.stack([s.gray for s in samples]).astype(np.float64)
    known = np.stack([~s.mask.astype(bool) for s in samples])
    feeds = {
        "gray": np.stack([s.gray for s in samples]),
        "edges": np.stack([s.edges for s in samples]),
        "mask": np.stack([s.mask for s in samples]),
    }
    edge, inpaint = inpainter.generators.edge, inpainter.generators.inpaint
    pred = edge.run(feeds)["edges_pred"]
    # The inpaint stage is timed on the edges serving feeds it (composited), not raw predictions.
    guide = edge_guide(pred, feeds["edges"], feeds["mask"])
    ifeeds = {"image": np.stack([s.image for s in samples]), "edges": guide, "mask": feeds["mask"]}
    outputs = inpaint.run(ifeeds)["inpainted"]
    canny = inpainter.canny
    rows = []
    work: dict[str, Callable[[], object]] = {
        "canny": (lambda: canny.batch(gray, known))
        if hasattr(canny, "batch")
        else (lambda: [canny(g[0], k[0]) for g, k in zip(gray, known, strict=True)]),
        "edge_generator": lambda: edge.run(feeds),
        "inpaint_generator": lambda: inpaint.run(ifeeds),
        "pre/post": lambda: [
            inpainter.finish(s, crop_output(s, o))
            for s, o in zip(
                [preprocess(s.rgb8, s.hole, _no_edges) for s in samples],
                outputs,
                strict=True,
            )
        ],
    }
    for stage, fn in work.items():
        stats = measure(fn, batch, iterations=config.iterations, duration=(config.duration or 3.0) / 2)
        rows.append(_row(backend, precision, batch, size, stage, stats=stats))
    return rows


def _no_edges(gray: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A Canny stand-in (pre/post is timed without Canny, which has its own row)."""
    return np.zeros(gray.shape, bool)


def _pipeline_rows(config: BenchConfig, progress: Callable[[str], None]) -> list[Row]:
    """End-to-end `run` throughput on real files: in-process vs the shared-memory pipeline."""
    import tempfile

    from edgeinpaint.core.jobs import plan_run
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
    from edgeinpaint.runtime.pipeline import run_jobs
    from edgeinpaint.runtime.workers import PipelineStats, run_pipeline

    assert config.pipeline is not None
    images = config.pipeline / "images" if (config.pipeline / "images").is_dir() else config.pipeline
    masks = config.pipeline / "masks"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if not masks.is_dir():
            from edgeinpaint.benchmarks.photos import write_mask

            masks = write_mask(Path(tmp) / "mask.png", 512)
        for mode in ("in-process", "pipeline"):
            out = Path(tmp) / mode
            jobs = plan_run(images, masks, out).jobs
            inpainter = open_recipe(ModelSource(artifacts=config.artifacts), EngineOptions(threads=config.threads))
            progress(f"pipeline: {mode} over {len(jobs)} files")
            stats = PipelineStats()
            t0 = time.perf_counter()
            if mode == "in-process":
                summary = run_jobs(inpainter, jobs)
            else:
                summary = run_pipeline(inpainter, jobs, workers=2, batch_size=1, stats=stats)
            wall = time.perf_counter() - t0
            inpainter.close()
            if summary.failed:
                failed = f"{len(summary.failed)} files failed, e.g. {summary.failed[0]}"
                raise EdgeInpaintError(f"pipeline benchmark: {failed}")
            speed = round(len(summary.done) / wall, 3)
            row = _row("onnxruntime", "fp32", 1, 0, f"run:{mode}", images_per_s=speed, wall_s=round(wall, 3))
            if mode == "pipeline":
                row.update(
                    engine_busy_share=round(stats.engine_busy_s / wall, 3),
                    engine_waiting_for_input_s=round(stats.wait_input_s, 3),
                    engine_waiting_for_output_s=round(stats.wait_output_s, 3),
                    startup_s=round(stats.startup_s, 3),
                )
            rows.append(row)
    return rows


CHECK_METRICS = {
    "throughput": "images_per_s",
    "median": "median_ms",
    "p90": "p90_ms",
    "p99": "p99_ms",
    "psnr": "psnr_vs_fp32",
}


def check(rows: list[Row], expressions: list[str]) -> list[str]:
    """Failures of ``--check`` expressions such as ``throughput>=20`` or ``p99<=50`` over measured model rows."""
    import operator
    import re

    ops = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
    failures = []
    for expr in expressions:
        m = re.fullmatch(r"\s*(\w+)\s*(>=|<=|>|<)\s*([0-9.eE+-]+)\s*", expr)
        if not m or m.group(1) not in CHECK_METRICS:
            raise EdgeInpaintError(
                f"--check {expr!r}: expected METRIC OP NUMBER with METRIC in {', '.join(CHECK_METRICS)}"
            )
        key, op, limit = CHECK_METRICS[m.group(1)], ops[m.group(2)], float(m.group(3))
        for row in rows:
            if row["status"] != "ok" or row["stage"] != "model" or key not in row:
                continue
            if not op(row[key], limit):
                where = f"{row['backend']} {row['precision']} batch {row['batch']} size {row['size']}"
                failures.append(f"{where}: {m.group(1)} {row[key]} fails {expr.strip()}")
    return failures
