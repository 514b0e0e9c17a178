"""`edgeinpaint serve` under abuse: slow clients and large uploads, while normal clients keep asking.

Starts the real server (a subprocess on a free loopback port), then for ``--seconds``:

- ``--slow`` connections trickle a request head one byte per second (each one the server closes is
  opened again, so that many are always pending);
- ``--uploads`` clients post ``--upload-mb`` MB photos with all-black masks, back to back (the
  inference queue is not used: decoding, checking and encoding the upload is the whole cost);
- ``--normal`` clients post a 256² photo with a hole, one after another.

Reports the share of normal requests answered 200 and their latency, what the large uploads got, and
the server's peak memory (RSS of its process tree, sampled every 100 ms). Only loopback is used.

Usage::

    python -m edgeinpaint.benchmarks.serve_abuse [--weights demo] [--slow 1000] [--uploads 60] [--upload-mb 30]
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import typer

from edgeinpaint.benchmarks.photos import free_port, png_bytes
from edgeinpaint.benchmarks.timing import tree_rss


def main(
    weights: str = typer.Option("demo", help="Weights the server runs."),
    slow: int = typer.Option(1000, min=0, help="Connections trickling their request head."),
    uploads: int = typer.Option(60, min=0, help="Clients posting large uploads back to back."),
    upload_mb: float = typer.Option(30.0, min=0.1, help="Size of each large upload (MB)."),
    normal: int = typer.Option(4, min=1, help="Clients posting ordinary requests one after another."),
    seconds: float = typer.Option(60.0, min=5.0, help="How long the abuse lasts."),
    src: Path | None = typer.Option(None, help="Run the server from another checkout's src/ (a before/after pair)."),
) -> None:
    import httpx

    from edgeinpaint.core.cpu import cpu_features, cpu_model

    rng = np.random.default_rng(0)
    side = int((upload_mb * 1e6 / 3) ** 0.5)  # random pixels: PNG cannot compress them
    big = png_bytes(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), level=0)
    big_mask = png_bytes(np.zeros((side, side), np.uint8))
    from edgeinpaint.calibration.sources import PHOTOS, sample_photo
    from edgeinpaint.trainer.masks import MaskSampler

    photo = sample_photo(PHOTOS[0], 256)
    hole = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.3)).sample(np.random.default_rng(1), 256, 256)
    small = {"image": ("p.png", png_bytes(photo)), "mask": ("m.png", png_bytes((hole * 255).astype(np.uint8)))}

    port = free_port()  # chosen here: older servers cannot report the one port 0 gave
    argv = [sys.executable, "-m", "edgeinpaint.cli", "serve", "--port", str(port), "--weights", weights]
    env = dict(os.environ, **({"PYTHONPATH": str(src)} if src is not None else {}))
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert server.stderr is not None
    deadline = time.monotonic() + 300
    while True:  # up when /healthz answers
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start: {server.stderr.read()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        time.sleep(0.2)
    threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its pipe drained
    url = f"http://127.0.0.1:{port}/v1/inpaint"
    stop = time.monotonic() + seconds
    peak = [0]
    results: dict[str, list[tuple[int, float]]] = {"normal": [], "upload": []}
    lock = threading.Lock()

    def sampler() -> None:
        while time.monotonic() < stop + 5:
            peak[0] = max(peak[0], tree_rss(server.pid))
            time.sleep(0.1)

    def trickle() -> None:
        conns: list[socket.socket] = []
        sent = 0
        while time.monotonic() < stop:
            while len(conns) < slow:
                try:
                    conns.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
            head = b"POST /v1/inpaint HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
            alive = []
            for c in conns:
                try:
                    c.send(head[sent % len(head) : sent % len(head) + 1])
                    alive.append(c)
                except OSError:
                    c.close()
            conns, sent = alive, sent + 1
            time.sleep(1.0)
        for c in conns:
            c.close()

    def client(kind: str) -> None:
        files = small if kind == "normal" else {"image": ("big.png", big), "mask": ("m.png", big_mask)}
        with httpx.Client(timeout=180) as http:
            while time.monotonic() < stop:
                t0 = time.monotonic()
                try:
                    code = http.post(url, files=files).status_code
                except httpx.HTTPError:
                    code = 0
                with lock:
                    results[kind].append((code, time.monotonic() - t0))
                if kind == "upload" and code == 503:
                    time.sleep(1.0)  # as Retry-After asks

    threads = [threading.Thread(target=sampler), threading.Thread(target=trickle)]
    threads += [threading.Thread(target=client, args=("upload",)) for _ in range(uploads)]
    threads += [threading.Thread(target=client, args=("normal",)) for _ in range(normal)]
    idle = tree_rss(server.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
    answered = [r for r in results["normal"] if r[0] == 200]
    latency = sorted(t for _c, t in answered)
    codes = {c: sum(1 for k, _t in results["upload"] if k == c) for c in sorted({k for k, _t in results["upload"]})}
    where = f"server from {src}" if src is not None else "this checkout's server"
    print(f"{cpu_model()}, {' '.join(cpu_features())}; weights {weights}; {seconds:.0f} s of abuse; {where}")
    print(f"slow clients: {slow} trickling their head; large uploads: {uploads} clients x {len(big) / 1e6:.1f} MB")
    share = len(answered) / max(len(results["normal"]), 1)
    p50 = latency[len(latency) // 2] if latency else float("nan")
    p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))] if latency else float("nan")
    print(f"normal requests: {len(answered)}/{len(results['normal'])} answered 200 ({share:.1%}), "
          f"latency p50 {p50:.2f} s, p99 {p99:.2f} s")  # fmt: skip
    print(f"large uploads: {codes} (status: count)")
    print(f"server memory: idle {idle / 2**30:.2f} GiB, peak {peak[0] / 2**30:.2f} GiB (RSS of its process tree)")


if __name__ == "__main__":
    typer.run(main)
