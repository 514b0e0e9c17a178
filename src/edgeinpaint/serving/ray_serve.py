"""``edgeinpaint serve --ray``: the same app as Ray Serve replicas, each holding its own engines.

Every replica builds the inpainter and the FastAPI app of serving/app.py and answers requests by
passing them to that app in-process (httpx's ASGI transport), so the endpoints, limits, errors and
pictures are exactly the single-process server's. Batching is ours, per replica (serving/batcher.py
groups requests by padded size, which Ray Serve's ``@serve.batch`` knows nothing about); Ray Serve
spreads requests over the replicas and scales them (``num_replicas`` or ``autoscaling_config``).

Written against Ray 2.x's Serve API (``serve.deployment``, ``serve.run``, ``serve.start`` with
``http_options``; docs.ray.io "Ray Serve: Scalable and Programmable Serving"). Replicas ask for a
fraction of a CPU by default: whole-CPU requests on a small machine leave no slot for Serve's own
proxy and controller (ray-project/ray#44687 describes the same starvation for Ray Data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, PictureOptions
from edgeinpaint.serving.app import ServeConfig


@dataclass(frozen=True)
class RayOptions:
    """Where and how many.

    Attributes:
        replicas: fixed replica count, or None with ``autoscale`` (min, max).
        address: an existing cluster ("auto", "ray://…"); None starts a local one.
        host / port: where Serve's HTTP proxy listens (loopback by default).
        cpus_per_replica / gpus_per_replica: each replica's resource request.
    """

    replicas: int | None = 1
    autoscale: tuple[int, int] | None = None
    address: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    cpus_per_replica: float = 0.5
    gpus_per_replica: float = 0.0


class Replica:
    """One Ray Serve replica: its own engines, batcher and app."""

    def __init__(
        self, source: ModelSource, engine: EngineOptions, picture: PictureOptions, config: ServeConfig
    ) -> None:
        import httpx

        from edgeinpaint.runtime.inpainter import open_inpainter
        from edgeinpaint.serving.app import create_app
        from edgeinpaint.serving.guard import Guard

        self.inpainter = open_inpainter(source, engine, picture)
        self.app = create_app(self.inpainter, config, info={"ray_replica_pid": os.getpid()})
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://replica")
        # The app's own guard, applied here too: a replica reads the body before the app sees it, so the
        # header checks (Host, cross-site, key, Content-Length) and the byte budget must come first.
        self.guard = Guard(None, config.hosts, config.api_key, 2 * config.max_upload_bytes + (1 << 20))

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import JSONResponse, Response

        headers = {k.lower(): v for k, v in request.headers.items()}
        problem = self.guard.refusal(request.url.path, headers)
        if problem is not None:
            return JSONResponse({"error": problem[1]}, status_code=problem[0])
        chunks, size = [], 0
        async for chunk in request.stream():  # counted as it arrives: a chunked upload is cut at the budget
            size += len(chunk)
            if size > self.guard.max_body:
                return JSONResponse({"error": f"request body: more than {self.guard.max_body:,} bytes"}, 413)
            chunks.append(chunk)
        forwarded = {k: v for k, v in headers.items() if k not in ("content-length", "transfer-encoding")}
        answer = await self.client.request(
            request.method, request.url.path, params=request.query_params, content=b"".join(chunks), headers=forwarded
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        return Response(answer.content, status_code=answer.status_code, headers=kept)


def run_ray(
    source: ModelSource, engine: EngineOptions, picture: PictureOptions, config: ServeConfig, ray: RayOptions
) -> Any:
    """Start (or join) Ray, deploy the replicas and return the Serve handle; ``serve.shutdown()`` stops it."""
    import ray as ray_lib
    from ray import serve

    if not ray_lib.is_initialized():
        ray_lib.init(address=ray.address, include_dashboard=False, log_to_driver=False)
        if ray.address is None and not os.environ.get("RAY_ADDRESS"):  # started here: ends with us, even on kill -9
            from edgeinpaint.core.reaper import ray_session_dir, reap_on_death

            reap_on_death(ray_session_dir() or "")
    serve.start(http_options={"host": ray.host, "port": ray.port})
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": ray.cpus_per_replica, "num_gpus": ray.gpus_per_replica},
        # Our batcher keeps up to max_batch requests in flight per replica; Serve may send more, the
        # batcher's bounded queue answers 503 beyond queue_size.
        "max_ongoing_requests": max(config.queue_size, config.max_batch),
    }
    if ray.autoscale is not None:
        options["autoscaling_config"] = {"min_replicas": ray.autoscale[0], "max_replicas": ray.autoscale[1]}
    else:
        options["num_replicas"] = ray.replicas or 1
    deployment = serve.deployment(name="edgeinpaint", **options)(Replica)
    return serve.run(deployment.bind(source, engine, picture, config), route_prefix="/", blocking=False)
