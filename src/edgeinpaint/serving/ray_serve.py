"""``edgeinpaint serve --ray``: the same app as Ray Serve replicas, each holding its own engines.

Every replica builds the inpainter and the FastAPI app of serving/app.py and answers requests by
passing them to that app in-process (httpx's ASGI transport), so the endpoints, limits, errors and
pictures are exactly the single-process server's. Batching is ours, per replica (serving/batcher.py
groups requests by padded size, which Ray Serve's ``@serve.batch`` knows nothing about); Ray Serve
spreads requests over the replicas and scales them (``num_replicas`` or ``autoscaling_config``).
Requests enter through one engine-free :class:`Front` deployment, which applies the header checks and
the body budget before reading, and turns a replica's death into a JSON 503.

Written against Ray 2.x's Serve API (``serve.deployment``, ``serve.run``, ``serve.start`` with
``http_options``; docs.ray.io "Ray Serve: Scalable and Programmable Serving"). Replicas ask for a
fraction of a CPU by default: whole-CPU requests on a small machine leave no slot for Serve's own
proxy and controller (ray-project/ray#44687 describes the same starvation for Ray Data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from edgeinpaint.runtime.inpainter import Settings
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
    """One inference replica: its own engines, batcher and app, reached through :class:`Front`."""

    def __init__(self, model: Settings, config: ServeConfig) -> None:
        import httpx

        from edgeinpaint.serving.app import create_app

        self.inpainter = model.open()
        self.app = create_app(self.inpainter, config, info={"ray_replica_pid": os.getpid()})
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://replica")

    async def forward(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request already admitted by the front: (status, headers kept, body)."""
        answer = await self.client.request(method, path, params=query, content=body, headers=headers)
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        return answer.status_code, kept, answer.content


class Front:
    """The HTTP ingress: checks headers, reads the body within its budget, hands it to a replica.

    A separate deployment because Serve's proxy answers a replica that dies mid-request with a plain-text
    500 ("Internal Server Error", no JSON; ray/serve/_private/http_util.py ``send_http_response_on_exception``
    writes only 408/429/503), and proxy middlewares are no longer configurable (HTTPOptions.middlewares was
    removed). The front holds no engines, so it is not what the OOM killer picks; a replica that dies under
    it becomes ``{"error": …}`` with 503 and Retry-After, like every other answer of the server.
    """

    def __init__(self, replicas: Any, config: ServeConfig) -> None:
        from edgeinpaint.serving.guard import Guard

        self.replicas = replicas  # a DeploymentHandle to Replica
        # The app's own guard, applied here: the front reads the body before any app sees it, so the header
        # checks (Host, cross-site, key, Content-Length) and the byte budget come first.
        self.guard = Guard(None, config.hosts, config.api_key, 2 * config.max_upload_bytes + (1 << 20))

    async def __call__(self, request: Any) -> Any:
        from ray.exceptions import RayActorError
        from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
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
        call = (request.method, request.url.path, request.url.query, forwarded, b"".join(chunks))
        try:
            status, kept, content = await self.replicas.forward.remote(*call)
        except (RayActorError, DeploymentUnavailableError, BackPressureError):
            # The replica died (killed, out of memory) or none is up yet: Serve starts a new one.
            message = "the inference replica stopped before answering (Serve is replacing it); retry"
            return JSONResponse({"error": message}, status_code=503, headers={"Retry-After": "2"})
        except Exception as exc:  # a defect in a replica: still the server's JSON shape, never a bare 500
            return JSONResponse({"error": f"internal error in the inference replica: {type(exc).__name__}"}, 500)
        return Response(content, status_code=status, headers=kept)


def run_ray(model: Settings, config: ServeConfig, ray: RayOptions) -> Any:
    """Start (or join) Ray, deploy the front and the replicas and return the Serve handle; ``serve.shutdown()``
    stops it."""
    import ray as ray_lib
    from ray import serve

    if not ray_lib.is_initialized():
        ray_lib.init(address=ray.address, include_dashboard=False, log_to_driver=False)
        if ray.address is None and not os.environ.get("RAY_ADDRESS"):  # started here: ends with us, even on kill -9
            from edgeinpaint.core.reaper import ray_session_dir, reap_on_death

            reap_on_death(ray_session_dir() or "")
    serve.start(http_options={"host": ray.host, "port": ray.port})
    # Our batcher keeps up to max_batch requests in flight per replica; Serve may send more, the batcher's
    # bounded queue answers 503 beyond queue_size.
    per_replica = max(config.queue_size, config.max_batch)
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": ray.cpus_per_replica, "num_gpus": ray.gpus_per_replica},
        "max_ongoing_requests": per_replica,
    }
    if ray.autoscale is not None:
        options["autoscaling_config"] = {"min_replicas": ray.autoscale[0], "max_replicas": ray.autoscale[1]}
    else:
        options["num_replicas"] = ray.replicas or 1
    most = ray.autoscale[1] if ray.autoscale is not None else (ray.replicas or 1)
    replicas = serve.deployment(name="edgeinpaint-replica", **options)(Replica)
    # One front: async and engine-free, it only reads bodies (each at most the guard's budget) and waits.
    front = serve.deployment(
        name="edgeinpaint", num_replicas=1, max_ongoing_requests=most * per_replica,
        ray_actor_options={"num_cpus": 0.1},
    )(Front)  # fmt: skip
    app = front.bind(replicas.bind(model, config), config)
    return serve.run(app, route_prefix="/", blocking=False)
