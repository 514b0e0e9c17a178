"""``edgeinpaint serve`` under load on loopback, against the bare engine in the same run.

    python -m edgeinpaint.benchmarks.serve --weights demo --requests 200 --concurrency 1,4,16

For each concurrency, a bounded load generator (``--requests`` POSTs of 256² PNG photos with
free-form holes, httpx threads) runs against the server with batching on (``--max-batch``) and
off (1); the bare engine (both generators on the same preprocessed samples, same batch size) is
timed in between. Reported: images/s, p50 / p99 latency, and the server's throughput as a share
of the bare engine's at the same batch size. Loopback only (127.0.0.1, a free port).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from edgeinpaint.benchmarks.photos import free_port, png_bytes


def _payloads(n: int, size: int) -> list[tuple[bytes, bytes]]:
    from edgeinpaint.calibration.sources import PHOTOS, sample_photo
    from edgeinpaint.trainer.masks import MaskSampler

    sampler = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35))
    out = []
    for i in range(n):
        hole = sampler.sample(np.random.default_rng([4, i]), size, size)
        out.append((png_bytes(sample_photo(PHOTOS[i % len(PHOTOS)], size)), png_bytes(hole.astype(np.uint8) * 255, 6)))
    return out


def _load(url: str, payloads: list[tuple[bytes, bytes]], requests: int, concurrency: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as client:

        def one(i: int) -> None:
            image, mask = payloads[i % len(payloads)]
            t0 = time.perf_counter()
            r = client.post(f"{url}/v1/inpaint", files={"image": ("p.png", image), "mask": ("m.png", mask)})
            r.raise_for_status()
            with lock:
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(requests)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "images_per_s": requests / wall,
        "p50_ms": 1e3 * statistics.median(latencies),
        "p99_ms": 1e3 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="demo")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--blend", choices=("auto", "paste", "poisson"), default="auto", help="auto: the weights'")
    args = parser.parse_args()

    import uvicorn

    from edgeinpaint.benchmarks.timing import measure
    from edgeinpaint.core.cpu import cpu_features, cpu_model
    from edgeinpaint.core.images import decode_image, decode_mask
    from edgeinpaint.core.specs import Backend
    from edgeinpaint.core.stages import preprocess
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe
    from edgeinpaint.serving.app import ServeConfig, create_app

    print(json.dumps({"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count()}), flush=True)
    from edgeinpaint.core.params import Blend
    from edgeinpaint.runtime.inpainter import PictureOptions

    picture = PictureOptions(blend=None if args.blend == "auto" else Blend(args.blend))
    inpainter = open_recipe(ModelSource(weights=args.weights), EngineOptions(backend=Backend(args.backend)), picture)
    payloads = _payloads(16, args.size)
    samples = []
    for image, mask in payloads:
        from pathlib import Path

        decoded = decode_image(Path("p.png"), image)
        samples.append(preprocess(decoded.rgb, decode_mask(Path("m.png"), mask), inpainter.canny))

    def engine(batch: int) -> float:
        groups = [samples[i : i + batch] for i in range(0, len(samples) - batch + 1, batch)]
        k = [0]

        def call() -> None:
            inpainter.infer(groups[k[0] % len(groups)])
            k[0] += 1

        return measure(call, batch, duration=4.0).images_per_s

    rows: list[dict[str, Any]] = []
    for batching in (args.max_batch, 1):
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(inpainter, ServeConfig(max_batch=batching, max_delay_ms=5.0, queue_size=256)),
                host="127.0.0.1",
                port=port,
                log_level="error",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        _load(url, payloads, 8, 2)  # warm-up
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            before = engine(min(batching, concurrency))
            got = _load(url, payloads, args.requests, concurrency)
            after = engine(min(batching, concurrency))
            bare = (before + after) / 2
            row = {
                "max_batch": batching,
                "concurrency": concurrency,
                **{k: round(v, 2) for k, v in got.items()},
                "bare_engine_images_per_s": round(bare, 2),
                "share_of_bare_engine": round(got["images_per_s"] / bare, 3),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        server.should_exit = True
        thread.join(timeout=30)
    inpainter.close()


if __name__ == "__main__":
    main()
