"""Run inside a private network namespace by test_ray_serve.py: two Ray Serve replicas, a few requests, then both
replicas killed -9 with a request in flight.

usage: python ray_serve_probe.py ARTIFACTS PORT IMAGE MASK OUT_JSON
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (proc(5))."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main() -> None:
    artifacts, port, image, mask, out = (
        sys.argv[1],
        int(sys.argv[2]),
        Path(sys.argv[3]),
        Path(sys.argv[4]),
        Path(sys.argv[5]),
    )
    import httpx
    import ray
    from ray import serve

    from edgeinpaint.api import settings
    from edgeinpaint.serving.app import ServeConfig
    from edgeinpaint.serving.ray_serve import RayOptions, run_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run_ray(settings(artifacts=artifacts, backend="onnxruntime"), ServeConfig(), RayOptions(replicas=2, port=port))
        url = f"http://127.0.0.1:{port}"
        files = {"image": (image.name, image.read_bytes()), "mask": (mask.name, mask.read_bytes())}
        pictures, pids = set(), set()
        with httpx.Client(timeout=120) as client:
            for _ in range(16):
                answer = client.post(f"{url}/v1/inpaint", files=files)
                answer.raise_for_status()
                pictures.add(hashlib.sha256(answer.content).hexdigest())
                pids.add(client.get(f"{url}/v1/info").json()["ray_replica_pid"])
            bad = client.post(f"{url}/v1/inpaint", files={"image": ("x.png", b"nope"), "mask": files["mask"]})
            # Kill -9 the replicas while a large request is being inpainted on one (seen from its CPU time).
            big = io.BytesIO()
            Image.fromarray(np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)).save(big, "PNG")
            hole = io.BytesIO()
            Image.fromarray(np.full((1500, 1500), 255, np.uint8)).save(hole, "PNG")
            before = {pid: cpu_ticks(pid) for pid in pids}
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(
                    client.post,
                    f"{url}/v1/inpaint",
                    files={"image": ("b.png", big.getvalue()), "mask": ("h.png", hole.getvalue())},
                )
                while not pending.done() and all(cpu_ticks(pid) - before[pid] < 30 for pid in pids):
                    time.sleep(0.02)
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                died = pending.result()
            recovered, deadline = 0, time.time() + 120
            while time.time() < deadline and recovered != 200:  # Serve starts new replicas
                recovered = client.post(f"{url}/v1/inpaint", files=files).status_code
                time.sleep(0.5)
        report = {
            "pictures": sorted(pictures), "replicas": len(pids), "bad": bad.status_code,
            "died": [died.status_code, died.headers.get("content-type"), died.text[:300]], "recovered": recovered,
        }  # fmt: skip
        out.write_text(json.dumps(report))
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
