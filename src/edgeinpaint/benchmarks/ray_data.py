"""``run --executor ray`` against the local run on the same photos, and what N nodes would give.

    python -m edgeinpaint.benchmarks.ray_data --weights demo --images 200 --size 256 --rounds 2

Runs itself inside a private network namespace (``unshare -n``, loopback only) unless it is
already in one: outside one Ray binds a non-loopback interface. One local Ray (all cores) serves
every Ray run; the candidates alternate (local, ray, local, ray, ...) because these machines are
noisy. Per candidate: wall time of the whole job from plan to the last file written, images/s.
A Ray run of ``--small`` images gives the fixed cost per job (actor start-up, engines opened,
dataset set-up) by a two-point fit ``T(n) = fixed + n * per_image``; the model for N identical
nodes is ``T = startup + fixed + n * per_image / N`` (the driver's per-row work is inside
``per_image`` and does not scale, so this is an upper bound). Outputs of the two executors are
compared byte for byte.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _private_namespace() -> bool:
    return [name for _i, name in socket.if_nameindex()] == ["lo"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="demo")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--small", type=int, default=8, help="images of the short Ray run (fixed-cost fit)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--rows-per-block", type=int, default=4)
    args = parser.parse_args()
    if not _private_namespace():
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            sys.exit("run this benchmark inside a private network namespace (unshare -n needs root here)")
        command = " ".join([sys.executable, "-m", "edgeinpaint.benchmarks.ray_data", *sys.argv[1:]])
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        sys.exit(subprocess.call(["unshare", "-n", "bash", "-c", f"ip link set lo up && {command}"], env=env))

    import ray

    from edgeinpaint.api import settings
    from edgeinpaint.benchmarks.photos import photo_pairs
    from edgeinpaint.core.cpu import cpu_features, cpu_model
    from edgeinpaint.executors.ray_data import RayOptions, run_on_ray
    from edgeinpaint.runtime.batch import RunConfig, run_batch

    print(json.dumps({"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": os.cpu_count()}), flush=True)
    model = settings(weights=args.weights, backend=args.backend)
    model.open().close()  # export into the cache once, outside every timing
    tmp = Path(tempfile.mkdtemp(prefix="eip-ray-bench-"))
    try:
        images, masks = photo_pairs(tmp, args.images, args.size)
        t0 = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t0
        options = RayOptions(actors=args.actors, rows_per_block=args.rows_per_block)

        def config(out: Path, n_images: Path = images) -> RunConfig:
            return RunConfig(input=n_images, mask=masks, output=out, model=model, in_process=None)

        small = tmp / "small"
        small.mkdir()
        for p in sorted(images.iterdir())[: args.small]:
            shutil.copy(p, small / p.name)
        rows: list[dict[str, Any]] = []
        for r in range(args.rounds):
            for executor in ("local", "ray", "ray-small"):
                out = tmp / f"out-{executor}-{r}"
                t = time.perf_counter()
                if executor == "local":
                    summary = run_batch(config(out)).summary
                else:
                    cfg = config(out, small if executor == "ray-small" else images)
                    cfg = dataclasses.replace(cfg, input=str(cfg.input), mask=str(masks), output=str(out))
                    summary = run_on_ray(cfg, options)[0].summary
                wall = time.perf_counter() - t
                assert not summary.failed, summary.failed
                row = {"round": r, "executor": executor, "images": len(summary.done), "wall_s": round(wall, 2)}
                row["images_per_s"] = round(len(summary.done) / wall, 3)
                rows.append(row)
                print(json.dumps(row), flush=True)
        identical = _tree(tmp / "out-local-0") == _tree(tmp / "out-ray-0")

        def best(name: str) -> float:
            return min(float(x["wall_s"]) for x in rows if x["executor"] == name)

        per_image = (best("ray") - best("ray-small")) / (args.images - args.small)
        fixed = best("ray") - per_image * args.images
        local_rate = args.images / best("local")
        projection = {
            f"{n}_nodes_images_per_s_at_{m}": round(m / (startup + fixed + m * per_image / n), 2)
            for n in (1, 4, 16)
            for m in (args.images, 100_000)
        }
        print(
            json.dumps(
                {
                    "ray_vs_local": round((args.images / best("ray")) / local_rate, 3),
                    "local_images_per_s": round(local_rate, 3),
                    "ray_images_per_s": round(args.images / best("ray"), 3),
                    "ray_init_s": round(startup, 2),
                    "ray_fixed_per_job_s": round(fixed, 2),
                    "ray_per_image_ms": round(1000 * per_image, 1),
                    "local_per_image_ms": round(1000 * best("local") / args.images, 1),
                    "model": projection,
                    "outputs_identical": identical,
                }
            ),
            flush=True,
        )
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
