"""``edgeinpaint serve``: the HTTP API and its browser page (FastAPI, run by uvicorn).

- ``POST /v1/inpaint``: multipart ``image`` (+ ``mask``, or ``mask=alpha`` as a form field to take
  the hole from the image's alpha channel) -> the inpainted image, in the input's format unless
  ``format`` is given: the same bytes ``edgeinpaint run`` writes for that pair (same decoding, mask
  rule, composite, alpha and 16-bit handling, encoder settings).
- ``GET /healthz`` (200 once the engines are loaded), ``GET /v1/info``, ``GET /metrics``
  (Prometheus), ``GET /`` (a page to paint a hole and see the result; no build step, no CDN).

Bad input is a 4xx JSON ``{"error": ...}`` naming the problem; the server never dies of a request.
Uploads and pixel counts are capped; the queue is bounded (503 + Retry-After when full); engine
work runs on one engine thread (serving/batcher.py) and decoding/encoding in worker threads, so
``/healthz`` answers under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

# FastAPI reads the handlers' annotations (``from __future__ import annotations`` makes them
# strings), so these names must be module globals, not imports inside create_app.
from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from edgeinpaint.core.errors import EdgeInpaintError, TooLarge
from edgeinpaint.core.images import (
    IMAGE_SUFFIXES,
    encode_bytes,
    output_format,
    restore_depth,
)
from edgeinpaint.core.specs import MASK_THRESHOLD
from edgeinpaint.core.stages import as_uint8
from edgeinpaint.core.version import __version__
from edgeinpaint.runtime.loading import LoadOptions, load_pair
from edgeinpaint.runtime.recipe import Recipe
from edgeinpaint.serving.batcher import Batcher, QueueFull
from edgeinpaint.serving.guard import Guard

_MEDIA = {"PNG": "image/png", "JPEG": "image/jpeg", "BMP": "image/bmp", "TIFF": "image/tiff", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ServeConfig:
    """Server limits and batching.

    Attributes:
        max_batch / max_delay_ms: dynamic batching (1 = off). queue_size: requests waiting at most.
        max_upload_bytes: per file. max_pixels: per image. timeout_s: per request.
        api_key: when set, requests need header ``X-API-Key`` with it (``/healthz`` excepted).
        quality / png_compression: encoder settings, as ``run``'s.
        mask_threshold: a mask pixel whose gray value is above this is a hole (``run --mask-threshold``).
        hosts: the ``Host`` names answered (DNS rebinding); the CLI adds ``--host`` and ``--allowed-host``.
    """

    max_batch: int = 4
    max_delay_ms: float = 5.0
    queue_size: int = 64
    max_upload_bytes: int = 32 << 20
    max_pixels: int = 16_000_000
    timeout_s: float = 120.0
    api_key: str | None = None
    quality: int = 95
    png_compression: int = 1
    mask_threshold: int = MASK_THRESHOLD
    #: Host names the server answers to (serving/guard.py); None = any (bound to every interface).
    hosts: frozenset[str] | None = frozenset({"127.0.0.1", "localhost", "::1"})
    #: Bytes of request bodies in flight at once (serving/guard.py); beyond: 503. None = 4 bodies' budget.
    max_inflight_bytes: int | None = None
    #: Seconds a request body may stall between chunks (408 after).
    body_timeout_s: float = 30.0
    #: Pixels of pictures being decoded, inpainted or encoded at once (~30 bytes each in flight); a
    #: request waits for its share (and times out with 504), so memory stays bounded whatever arrives.
    max_inflight_pixels: int = 32_000_000


class _Reject(Exception):  # noqa: N818 - carries the HTTP answer
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def create_app(recipe: Recipe, config: ServeConfig | None = None, info: dict[str, Any] | None = None) -> Any:
    """The FastAPI app serving ``recipe`` (which the caller opened and closes)."""
    config = config or ServeConfig()
    registry = CollectorRegistry()
    requests = Counter("edgeinpaint_requests", "Inpaint requests by outcome", ["outcome"], registry=registry)
    latency = Histogram(
        "edgeinpaint_latency_seconds", "Inpaint request latency", registry=registry,
        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
    )  # fmt: skip
    batch_sizes = Histogram(
        "edgeinpaint_batch_size", "Images per engine call", registry=registry, buckets=(1, 2, 3, 4, 6, 8, 12, 16, 32)
    )
    depth = Gauge("edgeinpaint_queue_depth", "Requests waiting for the engine", registry=registry)
    batcher = Batcher(
        recipe.infer,
        config.max_batch,
        config.max_delay_ms / 1000.0,
        config.queue_size,
        on_batch=batch_sizes.observe,
    )
    depth.set_function(lambda: batcher.stats.depth)

    # No /docs or /redoc: they load their scripts from a CDN. /openapi.json stays, behind the key.
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()  # on shutdown: the engine thread ends (FastAPI's lifespan; on_event is deprecated)

    app = FastAPI(title="edgeinpaint", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.batcher = batcher
    # Headers first, before any byte of the body (serving/guard.py): Host, cross-site, API key, body budget.
    max_body = 2 * config.max_upload_bytes + (1 << 20)  # two files and the form fields
    app.add_middleware(
        Guard,
        hosts=config.hosts,
        api_key=config.api_key,
        max_body=max_body,
        max_inflight=config.max_inflight_bytes if config.max_inflight_bytes is not None else 4 * max_body,
        body_timeout=config.body_timeout_s,
    )
    pixels = PixelBudget(max(config.max_inflight_pixels, config.max_pixels))

    @app.exception_handler(StarletteHTTPException)
    async def framework(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404 / 405 and the like in the API's own shape, {"error": ...}, not FastAPI's {"detail": ...}
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        requests.labels("rejected").inc()
        return JSONResponse({"error": f"missing or invalid field(s): {', '.join(fields)}"}, status_code=422)

    @app.exception_handler(_Reject)
    async def rejected(_request: Request, exc: _Reject) -> JSONResponse:
        requests.labels("rejected" if exc.status < 500 else "refused").inc()
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    def authorize(request: Request) -> None:
        if config.api_key is not None:
            given = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), config.api_key.encode()):
                raise _Reject(401, "missing or wrong X-API-Key header")

    async def read(upload: UploadFile, what: str) -> bytes:
        data = await upload.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            raise _Reject(413, f"{what} {upload.filename!r}: more than {config.max_upload_bytes:,} bytes")
        return data

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/info")
    async def v1_info(request: Request) -> dict[str, Any]:
        authorize(request)
        return {
            "edgeinpaint": __version__,
            "backend": recipe.generators.backend.value,
            "blend": recipe.blend.value,
            "fused": recipe.kind == "fused",
            "max_batch": config.max_batch,
            "max_pixels": config.max_pixels,
            "max_upload_bytes": config.max_upload_bytes,
            **(info or {}),
        }

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        authorize(request)  # the guard has checked already; kept beside the data it protects
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("edgeinpaint.serving").joinpath("static/index.html").read_text()

    @app.post("/v1/inpaint")
    async def inpaint(
        request: Request,
        image: UploadFile,
        mask: UploadFile | None = None,
        mask_mode: str = Form("file", alias="mask_mode"),
        format: str | None = Form(None),
    ) -> Response:
        authorize(request)
        t0 = time.perf_counter()
        name = Path(image.filename or "upload.png").name
        image_bytes = await read(image, "image")
        mask_bytes = await read(mask, "mask") if mask is not None else None
        if mask_bytes is None and mask_mode != "alpha":
            raise _Reject(
                422, "no mask: send a 'mask' file, or mask_mode=alpha to take the hole from the image's alpha"
            )
        suffix = "." + format.lower().lstrip(".") if format else (Path(name).suffix.lower() or ".png")
        if suffix not in IMAGE_SUFFIXES:
            shown = suffix[1:21] + ("..." if len(suffix) > 21 else "")  # never echo a megabyte back
            raise _Reject(415, f"format {shown!r}: expected one of {', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}")
        try:
            body, fmt = await asyncio.wait_for(
                _admitted(
                    pixels, image_bytes, _inpaint(recipe, batcher, config, name, image_bytes, mask_bytes, suffix)
                ),
                config.timeout_s,
            )
        except QueueFull:
            raise _Reject(503, "the server is busy: queue full", {"Retry-After": "1"}) from None
        except TimeoutError:  # distinct classes before Python 3.11
            raise _Reject(504, f"no answer within {config.timeout_s:.0f} s") from None
        except TooLarge as exc:
            raise _Reject(413, str(exc)) from None
        except EdgeInpaintError as exc:  # bad input, named
            raise _Reject(422, str(exc)) from None
        requests.labels("ok").inc()
        latency.observe(time.perf_counter() - t0)
        return Response(body, media_type=_MEDIA[fmt])

    return app


class PixelBudget:
    """Pixels of pictures in flight, shared by every request (one event loop: no lock needed)."""

    def __init__(self, total: int) -> None:
        self.total, self.used = total, 0
        self._freed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        """Wait until ``pixels`` fit (the request's timeout bounds the wait), hold them, give them back."""
        pixels = min(pixels, self.total)
        async with self._freed:
            await self._freed.wait_for(lambda: self.used + pixels <= self.total)
            self.used += pixels
        try:
            yield
        finally:
            async with self._freed:
                self.used -= pixels
                self._freed.notify_all()


def _header_pixels(data: bytes) -> int:
    """Width x height from the image header (nothing decoded), 0 when it cannot be read (decode reports it)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(img.size[0] * img.size[1])
    except Exception:
        return 0


async def _admitted(pixels: PixelBudget, image_bytes: bytes, work: Awaitable[tuple[bytes, str]]) -> tuple[bytes, str]:
    """Run ``work`` holding the picture's share of the pixel budget (decoded pixels, samples, outputs)."""
    async with pixels.hold(_header_pixels(image_bytes)):
        return await work


async def _inpaint(
    recipe: Recipe,
    batcher: Batcher,
    config: ServeConfig,
    name: str,
    image_bytes: bytes,
    mask_bytes: bytes | None,
    suffix: str,
) -> tuple[bytes, str]:
    """Decode and preprocess in a worker thread, the generators on the engine thread, composite and encode
    in a worker thread: the picture ``run`` makes for this pair."""
    # run's loader: the same decoding, mask rule, alpha and size checks (a mask of another size is refused
    # here, where run resizes it with a warning: a request gets no warnings back).
    load = LoadOptions(mask_bytes is None, True, config.mask_threshold, config.max_pixels)
    loaded = await asyncio.to_thread(load_pair, name, "mask", load, image_bytes, mask_bytes)
    decoded, hole, alpha = loaded.decoded, loaded.hole, loaded.alpha
    pixels = decoded.rgb
    if not hole.any():
        painted = as_uint8(pixels)
    elif recipe.batchable(*hole.shape):  # prepare here, infer in a batch on the engine thread, finish here
        prepared = await asyncio.to_thread(recipe.prepare, pixels, hole)
        raw = await asyncio.wrap_future(batcher.submit(prepared))
        painted = await asyncio.to_thread(recipe.finish, prepared, raw)
    else:  # the whole route (high-resolution crops) runs alone on the engine thread
        painted = await asyncio.wrap_future(batcher.submit_direct(lambda: recipe(pixels, hole)))
    fmt = output_format(Path("out" + suffix))
    body = await asyncio.to_thread(
        encode_bytes, restore_depth(painted, hole, pixels), fmt, config.quality, alpha, config.png_compression
    )
    return body, fmt
