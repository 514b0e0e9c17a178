"""Run inside a private network namespace by test_ray_serve.py: two Ray Serve replicas, a few requests.

usage: python ray_serve_probe.py ARTIFACTS PORT IMAGE MASK OUT_JSON
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path


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

    from edgeinpaint.core.specs import Backend
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, PictureOptions
    from edgeinpaint.serving.app import ServeConfig
    from edgeinpaint.serving.ray_serve import RayOptions, run_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run_ray(
            ModelSource(artifacts=Path(artifacts)),
            EngineOptions(backend=Backend.ONNXRUNTIME),
            PictureOptions(),
            ServeConfig(),
            RayOptions(replicas=2, port=port),
        )
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
        out.write_text(json.dumps({"pictures": sorted(pictures), "replicas": len(pids), "bad": bad.status_code}))
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
